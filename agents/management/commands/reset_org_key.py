"""Forget a tenant's organisation key after its admins lost every copy (browser and backup).

Nothing else can replace a key without the old one's signed hand-over. Conversations lose
nothing: their keys are the devices', not the organisation's. The tenant's staff devices go back
to waiting for approval, and the tenant admin makes a new key, approves the devices again, and
pastes the new tag into its pages (the old tag's widgets refuse every agent until then). Browsers
that pinned the old key warn until their Sealdesk data is cleared. Revoked devices stay revoked.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from agents.models import Device, Tenant


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the tenant's slug")
        parser.add_argument(
            "--yes", action="store_true", help="do it (without it, only say what would happen)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(f"There is no tenant {options['slug']!r}.")
        keys = tenant.org_keys.count()
        certified = Device.objects.filter(
            tenant=tenant, cert__isnull=False, revoked_at__isnull=True
        )
        if not options["yes"]:
            self.stdout.write(
                f"Would forget {keys} organisation key(s) of {tenant.name} and send "
                f"{certified.count()} device(s) back to waiting for approval. Add --yes to do it."
            )
            return
        with transaction.atomic():
            devices = certified.update(cert=None, certified_at=None, certified_by=None)
            tenant.org_keys.all().delete()
        self.stdout.write(
            f"Forgot {keys} organisation key(s) of {tenant.name}; {devices} device(s) wait for "
            "approval. A tenant admin makes the new key on the organisation page."
        )
