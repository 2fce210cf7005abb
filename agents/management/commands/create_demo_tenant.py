"""Create the demo tenant: a team, a tenant admin, a supervisor and two agents, with random
passwords, and a few canned responses; its supervisors may monitor, whisper and barge in (the
widget says so)."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from agents.models import Agent, CannedResponse, Team, Tenant

DEMO_PEOPLE = [
    ("demo-admin", "Dana Admin", Agent.Role.TENANT_ADMIN),
    ("demo-alice", "Alice", Agent.Role.AGENT),
    ("demo-bob", "Bob", Agent.Role.AGENT),
    ("demo-sam", "Sam", Agent.Role.SUPERVISOR),
]

# (shortcut, title, text, for the Support team only): typed as "/gr", "/pa" in the reply box.
DEMO_CANNED = [
    ("greeting", "Greeting", "Hello, and thank you for waiting! How can I help you today?", False),
    ("goodbye", "Goodbye", "Thank you for chatting with us. Have a good day!", False),
    (
        "parcel",
        "Where is my parcel",
        "Could you give me your order number? I will look up where your parcel is.",
        True,
    ),
]


class Command(BaseCommand):
    help = "Create the demo tenant (idempotent). New logins get random passwords, printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the app is served."
        )
        parser.add_argument(
            "--demo-origin",
            default="http://127.0.0.1:8001",
            help="Origin of the demo customer page, allowed to embed the widget.",
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give existing demo logins new random passwords and print them.",
        )

    def handle(
        self, *args: Any, base_url: str, demo_origin: str, reset_passwords: bool, **options: Any
    ) -> None:
        User = get_user_model()
        with transaction.atomic():
            tenant, _ = Tenant.objects.get_or_create(
                slug="demo",
                defaults={
                    "name": "Demo Company",
                    "allowed_origins": demo_origin,
                    "supervision": Tenant.Supervision.BARGE,
                },
            )
            if demo_origin not in tenant.origin_list():
                tenant.allowed_origins = "\n".join([*tenant.origin_list(), demo_origin])
                tenant.save(update_fields=["allowed_origins"])
            team, _ = Team.objects.get_or_create(tenant=tenant, name="Support")
            for shortcut, title, text, team_only in DEMO_CANNED:
                CannedResponse.objects.get_or_create(
                    tenant=tenant,
                    team=team if team_only else None,
                    shortcut=shortcut,
                    defaults={"title": title, "text": text},
                )
            lines = []
            for username, display_name, role in DEMO_PEOPLE:
                user, created = User.objects.get_or_create(username=username)
                password = None
                if created or reset_passwords:
                    password = secrets.token_urlsafe(12)
                    user.set_password(password)
                user.is_staff = role == Agent.Role.TENANT_ADMIN or user.is_superuser
                user.save()
                agent, _ = Agent.objects.get_or_create(
                    user=user,
                    defaults={"tenant": tenant, "display_name": display_name, "role": role},
                )
                if agent.tenant_id != tenant.pk:
                    self.stderr.write(f"{username} belongs to another tenant; left as it is.")
                    continue
                agent.teams.add(team)
                shown = password if password else "(unchanged; --reset-passwords prints a new one)"
                lines.append(f"  {agent.get_role_display():<13} {username:<11} {shown}")
        base = base_url.rstrip("/")
        self.stdout.write(
            f"Demo tenant “{tenant.name}” (widget id {tenant.widget_id}), team {team.name}:"
        )
        self.stdout.write("\n".join(lines))
        self.stdout.write(f"Agent dashboard: {base}/dashboard/")
        self.stdout.write(f"Admin:           {base}/admin/")
