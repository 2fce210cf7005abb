"""Start waiting conversations in the benchmark tenant; print each one's id and token as JSON.

For bench/idle_sockets.py: thousands of customers who opened the widget and wait in the queue.
Each conversation is started by the server's own action,
chat.actions.lifecycle.do_start_conversation, for a fresh customer device, as the widget's
POST /api/widget/<id>/conversations does: the same device, conversation, participant and token
rows. Two things are left out, since nobody is connected yet to hear or take them: the queue
broadcast (every start tells each customer already waiting in the team its place, so starting N
conversations through the API costs about N*N frames: 5,000 would take well over ten minutes on
two cores) and the router's dispatch (no agent is available). The customers' first epoch and
pre-chat message are left out too: the server keeps neither in a socket's state.

Runs in a subprocess with the server's environment, as bench/seed_tenant.py does.
"""

import argparse
import base64
import json
import os
from unittest import mock

import django

from sealdesk_client import protocol

BATCH = 500  # conversations per transaction


def main() -> None:
    """Start the conversations, spread round robin over the teams, and print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--widget-id", required=True, help="The tenant's widget id.")
    parser.add_argument(
        "--teams", type=int, nargs="+", required=True, help="Ids of the teams to queue in."
    )
    parser.add_argument("--conversations", type=int, required=True, help="How many to start.")
    parser.add_argument("--origin", required=True, help="The origin the customers' page sends.")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    django.setup()
    from django.db import transaction

    from agents.models import Team, Tenant
    from chat.actions.lifecycle import do_start_conversation

    tenant = Tenant.objects.get(widget_id=args.widget_id)
    teams = [Team.objects.get(pk=pk, tenant=tenant) for pk in args.teams]
    started: list[tuple[str, str]] = []
    with (
        mock.patch("chat.actions.lifecycle.queue_changed"),
        mock.patch("chat.actions.lifecycle.router_for"),
    ):
        for first in range(0, args.conversations, BATCH):
            with transaction.atomic():
                for n in range(first, min(first + BATCH, args.conversations)):
                    keys = protocol.generate_device()
                    conversation, token = do_start_conversation(
                        tenant,
                        teams[n % len(teams)],
                        base64.b64encode(keys.sign_public).decode(),
                        base64.b64encode(keys.box_public).decode(),
                        origin=args.origin,
                    )
                    started.append((str(conversation.id), token))
    print(json.dumps({"conversations": started}))


if __name__ == "__main__":
    main()
