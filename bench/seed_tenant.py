"""Create the benchmark tenant: its teams and agents; print them as JSON.

Runs in a subprocess with the server's environment (bench.servers.Backend.seed), so that the
benchmark processes themselves stay pure clients of the server.
"""

import argparse
import json
import os
import secrets
from typing import TYPE_CHECKING

import django

if TYPE_CHECKING:
    from agents.models import Tenant


def main() -> None:
    """Create the tenant, its teams and agents, and print what a client needs to log in."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, required=True, help="How many agents to create.")
    parser.add_argument(
        "--chats-per-agent", type=int, required=True, help="Each agent's max_concurrent_chats."
    )
    parser.add_argument("--teams", type=int, default=1, help="Teams, each with every agent (1).")
    parser.add_argument("--origin", required=True, help="The origin the customers' pages send.")
    parser.add_argument(
        "--twilio",
        action="store_true",
        help="Route with Twilio TaskRouter: made-up SIDs and token, a Worker per agent.",
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from agents.models import Agent, Team, Tenant

    password = secrets.token_urlsafe(16)
    # One hash for every agent: hashing costs about 0.3 s each and is not what is measured.
    hashed = make_password(password)
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name="Bench",
            slug="bench",
            allowed_origins=args.origin,
            # The longest allowed: no offer may lapse while hundreds of chats are set up.
            offer_timeout_seconds=600,
        )
        teams = [Team.objects.create(tenant=tenant, name=f"Team {n}") for n in range(args.teams)]
        usernames = [f"bench-agent-{n:03d}" for n in range(args.agents)]
        users = get_user_model().objects.bulk_create(
            get_user_model()(username=name, password=hashed) for name in usernames
        )
        for user in users:
            agent = Agent.objects.create(
                user=user,
                tenant=tenant,
                display_name=user.get_username(),
                max_concurrent_chats=args.chats_per_agent,
            )
            agent.teams.add(*teams)
        twilio = set_up_twilio(tenant) if args.twilio else None
    print(
        json.dumps(
            {
                "widget_id": tenant.widget_id,
                "teams": [team.pk for team in teams],
                "agents": usernames,
                "password": password,
                "twilio": twilio,
            }
        )
    )


def set_up_twilio(tenant: "Tenant") -> dict[str, object]:
    """Switch TENANT to Twilio TaskRouter with made-up SIDs; return them and a made-up token,
    which the server must find in TWILIO_AUTH_TOKEN_<Account SID>, the account given to TENANT by
    TWILIO_ACCOUNT_TENANT_<Account SID>."""
    from agents.models import Tenant
    from taskrouter.models import TaskQueue, Worker, Workspace

    def sid(prefix: str) -> str:
        return prefix + secrets.token_hex(16)

    token = secrets.token_hex(16)
    tenant.routing = Tenant.Routing.TWILIO
    tenant.save()
    space = Workspace.objects.create(
        tenant=tenant,
        account_sid=sid("AC"),
        sid=sid("WS"),
        workflow_sid=sid("WW"),
        available_activity_sid=sid("WA"),
        away_activity_sid=sid("WA"),
        offline_activity_sid=sid("WA"),
    )
    for team in tenant.teams.all():
        TaskQueue.objects.create(team=team, sid=sid("WQ"))
    workers = {}
    for agent in tenant.agents.all():
        workers[agent.display_name] = Worker.objects.create(agent=agent, sid=sid("WK")).sid
    return {
        "account": space.account_sid,
        "tenant": tenant.slug,
        "workspace": space.sid,
        "workflow": space.workflow_sid,
        "token": token,
        "workers": workers,
    }


if __name__ == "__main__":
    main()
