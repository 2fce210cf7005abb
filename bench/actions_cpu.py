"""CPU the chat actions cost in one process, without sockets, clients or network.

`bench/chat_load.py` measures the whole path, but on a 2-core machine shared by client and
server its figures move by tens of percent between runs. This measures the server's own work:
it migrates a fresh database (SQLite in a temporary folder, or the DATABASE_URL given), creates a
tenant with 20 agents in 10 teams, then times with `time.process_time()`:

1. starting chats (`do_start_conversation`), each offered by the built-in router and accepted
   (`do_accept_offer`);
2. messages: the agent socket's lookup (`access_conversation`) and `do_send_message` of a signed
   envelope, each on a fresh database connection, as every `database_sync_to_async` call has
   with Django's default CONN_MAX_AGE=0.

    .venv/bin/python -m bench.actions_cpu [--chats 200] [--messages 1000] [--repeats 2]
"""

import argparse
import base64
import time

from bench.servers import fresh_django


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def main() -> None:
    """Parse the arguments, set Django up on a fresh database, and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=200, help="chats started and accepted")
    parser.add_argument("--messages", type=int, default=1000, help="messages sent")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of each measurement")
    args = parser.parse_args()
    fresh_django()
    for round_ in range(1, args.repeats + 1):
        setup, per_message = measure(args.chats, args.messages, round_)
        print(
            f"round {round_}: {args.chats} chats started and accepted in {setup:.2f} s of CPU "
            f"({setup / args.chats * 1000:.1f} ms each); {args.messages} messages at "
            f"{per_message * 1000:.2f} ms of CPU each",
            flush=True,
        )


def measure(chats: int, messages: int, round_: int) -> tuple[float, float]:
    """Return the CPU seconds of CHATS starts and accepts, and of one message on average."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from agents.access import access_conversation
    from agents.models import Agent, Team, Tenant
    from chat.actions import devices, lifecycle, offers, presence
    from chat.actions import messages as message_actions
    from chat.models import Offer
    from sealdesk_client import protocol

    tenant = Tenant.objects.create(
        name=f"Bench {round_}", slug=f"bench-{round_}", allowed_origins="https://bench.example"
    )
    teams = [Team.objects.create(tenant=tenant, name=f"Team {n}") for n in range(10)]
    agents = []
    for n in range(20):
        user = get_user_model().objects.create_user(username=f"bench-{round_}-{n}")
        agent = Agent.objects.create(
            user=user, tenant=tenant, display_name=f"Agent {n}", max_concurrent_chats=50
        )
        agent.teams.set(teams)
        keys = protocol.generate_device()
        devices.do_register_agent_device(agent, b64(keys.sign_public), b64(keys.box_public), "")
        presence.do_set_presence(agent, Agent.Presence.AVAILABLE)
        agents.append(agent)
    customers = [protocol.generate_device() for _ in range(chats)]

    start = time.process_time()
    for n, keys in enumerate(customers):
        conversation, _ = lifecycle.do_start_conversation(
            tenant, teams[n % 10], b64(keys.sign_public), b64(keys.box_public), "https://bench"
        )
        for offer in Offer.objects.filter(
            conversation=conversation, state=Offer.State.PENDING
        ).select_related("agent"):
            offers.do_accept_offer(offer.agent, offer.agent.devices.get(), offer.pk)
    setup = time.process_time() - start

    keys = customers[-1]
    agent = conversation.current_agents()[0]
    conversation_id = str(conversation.pk)
    me = keys.member("customer")
    record = protocol.make_epoch(keys, tenant.widget_id, conversation_id, None, [me])
    key = protocol.new_epoch_key()
    wrap = protocol.wrap_key(keys, me, tenant.widget_id, conversation_id, 0, key)
    message_actions.do_add_epoch(
        conversation, conversation.customer_device, record.to_json(), [wrap.to_json()]
    )
    envelopes = [
        protocol.encrypt_message(
            keys,
            tenant.widget_id,
            conversation_id,
            record,
            key,
            seq,
            {"type": "text", "body": "Where is my parcel?", "sent_at": "2026-12-01T00:00:00Z"},
            after=protocol.head_after(tenant.widget_id, conversation_id, [record]),
        ).to_json()
        for seq in range(1, messages + 1)
    ]
    device = conversation.customer_device
    start = time.process_time()
    for envelope in envelopes:
        found = access_conversation(agent, conversation_id)
        message_actions.do_send_message(found, device, envelope)
        connection.close()
    return setup, (time.process_time() - start) / messages


if __name__ == "__main__":
    main()
