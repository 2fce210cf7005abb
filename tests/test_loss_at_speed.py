"""Proof that nothing is lost at speed (issue 14): the server killed with SIGKILL mid-batch.

Group commit (chat/group_commit.py) stores the messages that a process's sockets send while the
database writes a batch together, in one transaction, and answers each `send` with its `sent`
frame only once that transaction committed. A message acknowledged to its sender is then the
server's promise that it is stored; a message not acknowledged stays in its sender's outbox,
which the client sends again when it reconnects, and the server stores a resend only once.

This test holds the server and the client to that where it is easiest to break: sixty
conversations write from both sides at once (each side one message at a time, as the widget
and the dashboard do), so that batches of many conversations are written while more messages
wait for the next batch and in the sockets, and the server is killed with `kill -9` (no
shutdown, nothing closed by Daphne) with a send in flight from nearly every sender. Which
messages were acknowledged is what `send_text` returned (the `sent` frame's seq) before the
kill: the client itself keeps no such list, its outbox lets a message go only once it sees it
come back. Before the server comes back, the database is read: every acknowledged message is
there, at the number its acknowledgement gave, in its sender's name; and the server had lost
some of those in flight, so that the outboxes have something to send again and the test cannot
pass without them. The server is restarted on the same port and every client reconnects (its
outbox sends again what was not acknowledged): everything written so far is then stored, once.
Every side finishes writing; then every message every client wrote, acknowledged or not, is
stored exactly once, after its sender's earlier ones and before its later ones, and every
receiver verified and shows each of its peer's messages exactly once and in the order they were
written, without a warning. It runs on both configurations of the README's test command, SQLite
with the in-memory channel layer and PostgreSQL with Redis, with nothing particular to either.
"""

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async

from agents.models import Agent
from chat.models import Event
from sealdesk_client.client import AgentClient, ConversationClient, Customer
from tests.factories import PASSWORD, Staff, make_agent
from tests.live import DaphneServer

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://www.acme.example"
# Acme's Support team: Alice (the fixture's) and five colleagues, ten chats each.
COLLEAGUES = ("bob", "carol", "dave", "erin", "frank")
CHATS_PER_AGENT = 10
CONVERSATIONS = CHATS_PER_AGENT * (1 + len(COLLEAGUES))
MESSAGES = 12  # texts each side of each conversation writes in all
KILL_AFTER = 300  # acknowledged texts before the kill
SETUP_TIMEOUT = 60.0
DELIVERY_TIMEOUT = 30.0


@dataclass
class Sender:
    """One side of one conversation, writing MESSAGES texts, one after the other."""

    name: str
    view: ConversationClient
    peer: ConversationClient
    first_seq: int  # its first text's sender_seq: 2 for a customer (the pre-chat form is 1)
    written: list[str] = field(default_factory=list)  # handed to send_text, in order
    acked: dict[str, int] = field(default_factory=dict)  # body -> seq its `sent` answer gave
    acked_before_kill: dict[str, int] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return self.view.keys.device_id

    def sender_seq(self, body: str) -> int:
        return self.first_seq + self.written.index(body)

    async def write(self) -> None:
        """Write the rest of its texts, each once the server acknowledged the one before."""
        while len(self.written) < MESSAGES:
            body = f"{self.name}, message {len(self.written) + 1} of {MESSAGES}"
            # send_text seals the message into the outbox before its first pause, so a body
            # recorded here is in the outbox even if this task is cancelled at once.
            self.written.append(body)
            seq = await self.view.send_text(body)
            assert seq, f"{body!r} was kept in the outbox: the socket was closed"
            self.acked[body] = seq


def shown_from(view: ConversationClient, device: str) -> list[tuple[int, str]]:
    """Return (server seq, body) of each text from DEVICE that VIEW verified and shows."""
    return [
        (shown.seq, shown.content["body"])
        for shown in view.shown
        if shown.kind == "message" and shown.sender == device and shown.content["type"] == "text"
    ]


def shows_all(view: ConversationClient, sender: Sender) -> Callable[[], bool]:
    return lambda: len(shown_from(view, sender.device)) >= len(sender.written)


def stored_messages(conversations: list[str]) -> list[tuple[str, int, str, int, datetime]]:
    """Return (conversation, seq, sender device, sender_seq, created_at) of each stored message."""
    return [
        (str(conversation), seq, sender, sender_seq or 0, created)
        for conversation, seq, sender, sender_seq, created in Event.objects.filter(
            conversation_id__in=conversations, kind=Event.Kind.MESSAGE
        ).values_list("conversation_id", "seq", "sender_id", "sender_seq", "created_at")
    ]


@pytest.fixture
async def colleagues(acme: Staff, daphne: DaphneServer) -> AsyncIterator[list[AgentClient]]:
    """Bob, Carol, Dave, Erin and Frank, Alice's colleagues in Acme's Support team, available."""
    for name in COLLEAGUES:
        await sync_to_async(make_agent)(acme.tenant, name, Agent.Role.AGENT, (acme.team,))
    clients = [AgentClient(daphne.url, name, PASSWORD) for name in COLLEAGUES]
    await asyncio.gather(*(client.login() for client in clients))
    await asyncio.gather(*(client.connect() for client in clients))
    for client in clients:
        await client.set_presence(Agent.Presence.AVAILABLE)
    yield clients
    for client in clients:
        await client.close()


@pytest.fixture
async def customers(acme: Staff, daphne: DaphneServer) -> AsyncIterator[list[Customer]]:
    clients = [Customer(daphne.url, acme.tenant.widget_id, ORIGIN) for _ in range(CONVERSATIONS)]
    yield clients
    for client in clients:
        await client.close()


async def open_conversations(
    acme: Staff, agents: list[AgentClient], customers: list[Customer]
) -> list[tuple[Customer, ConversationClient]]:
    """Have every customer start a chat and the agents take ten each; return both ends of each
    conversation once both hold the key of the epoch that has the agent in it."""
    await Agent.objects.filter(tenant=acme.tenant).aupdate(max_concurrent_chats=CHATS_PER_AGENT)
    accepting = [
        asyncio.create_task(a.accept_offers(CHATS_PER_AGENT, SETUP_TIMEOUT)) for a in agents
    ]
    arriving = asyncio.Semaphore(10)  # customers arrive in a burst, not all at the same moment

    async def start(n: int, customer: Customer) -> None:
        async with arriving:
            await customer.start(
                acme.team.pk,
                {
                    "name": f"Customer {n}",
                    "email": f"customer{n}@example.org",
                    "question": f"Where is my order {4700 + n}?",
                },
            )

    async with asyncio.timeout(SETUP_TIMEOUT):
        await asyncio.gather(*(start(n, c) for n, c in enumerate(customers, 1)))
        await asyncio.gather(*accepting)
        ends: list[tuple[Customer, ConversationClient]] = []
        for customer in customers:
            while True:
                agent_side = next(
                    (
                        a.conversations[customer.conversation]
                        for a in agents
                        if customer.conversation in a.conversations
                    ),
                    None,
                )
                if (
                    agent_side is not None
                    and agent_side.keyed_since_joined()
                    and customer.keyed_since_joined()
                ):
                    break
                await asyncio.sleep(0.02)
            ends.append((customer, agent_side))
    return ends


async def test_nothing_acknowledged_is_lost_and_nothing_doubled_when_the_server_is_killed_mid_batch(
    acme: Staff,
    daphne: DaphneServer,
    alice: AgentClient,
    colleagues: list[AgentClient],
    customers: list[Customer],
) -> None:
    began = time.monotonic()
    agents = [alice, *colleagues]
    ends = await open_conversations(acme, agents, customers)
    conversations = [customer.conversation for customer, _ in ends]
    senders: list[Sender] = []
    for n, (customer, agent_side) in enumerate(ends, 1):
        agent_name = next(a.username for a in agents if customer.conversation in a.conversations)
        senders.append(Sender(f"Customer {n}", customer, agent_side, first_seq=2))
        senders.append(Sender(f"{agent_name} to customer {n}", agent_side, customer, first_seq=1))
    set_up = time.monotonic() - began

    # Every side writes at once until a few hundred texts were acknowledged; then kill -9, and
    # in the same turn of the event loop, before any reply more is read, the writing stops.
    writing = [asyncio.create_task(sender.write()) for sender in senders]
    async with asyncio.timeout(SETUP_TIMEOUT):
        while sum(len(s.acked) for s in senders) < KILL_AFTER:
            await asyncio.sleep(0.005)
            if any(task.done() for task in writing):
                break  # a sender finished or failed before the kill: reported below
    daphne.kill()
    for task in writing:
        task.cancel()
    outcomes = await asyncio.gather(*writing, return_exceptions=True)
    # A fast side may have written all its texts already; none failed.
    assert all(o is None or isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes
    for sender in senders:
        sender.acked_before_kill = dict(sender.acked)
    in_flight = {s.name: s.written[-1] for s in senders if s.written[-1] not in s.acked}
    for sender in senders:  # the outbox keeps what was not acknowledged, under its number,
        if sender.name in in_flight:  # unless its event came back, stored, before the kill
            body = in_flight[sender.name]
            came_back = body in [shown for _, shown in shown_from(sender.view, sender.device)]
            assert came_back or sender.sender_seq(body) in sender.view.outbox, sender.name
    for agent in agents:
        await agent.disconnect()
    for customer in customers:
        await customer.disconnect()

    # Before the server is back: every acknowledged message is in the database, at the number
    # its acknowledgement gave, in its sender's name.
    at_kill = await sync_to_async(stored_messages)(conversations)
    by_number = {(c, seq): device for c, seq, device, _, _ in at_kill}
    for sender in senders:
        for body, seq in sender.acked.items():
            assert by_number.get((sender.view.conversation, seq)) == sender.device, body
    stored_at_kill = {(c, device, sender_seq) for c, _, device, sender_seq, _ in at_kill}
    committed_unacked = [
        s.name
        for s in senders
        if s.name in in_flight
        and (s.view.conversation, s.device, s.sender_seq(in_flight[s.name])) in stored_at_kill
    ]
    acked = sum(len(s.acked) for s in senders)
    most = max(len(s.acked) for s in senders)
    fewest = min(len(s.acked) for s in senders)
    # The kill came with sends in flight, and the server had not stored some of them: the
    # outboxes have something to send again, so this test cannot pass without them.
    assert len(in_flight) >= len(senders) // 2, (len(in_flight), len(senders))
    assert len(committed_unacked) < len(in_flight)

    killed = time.monotonic()
    await asyncio.to_thread(daphne.start)
    restarted = time.monotonic() - killed
    await asyncio.gather(*(agent.connect() for agent in agents))
    await asyncio.gather(*(customer.connect() for customer in customers))

    # Reconnecting sent the outboxes again: everything written so far is stored, once each,
    # though the server had lost most of what was in flight.
    resent = await sync_to_async(stored_messages)(conversations)
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for c, _, device, sender_seq, _ in resent:
        numbers[(c, device)].append(sender_seq)
    for sender in senders:
        last = sender.first_seq + len(sender.written) - 1
        assert sorted(numbers[(sender.view.conversation, sender.device)]) == list(
            range(1, last + 1)
        ), sender.name

    # Each side finishes writing, then every message reaches its peer.
    async with asyncio.timeout(SETUP_TIMEOUT):
        await asyncio.gather(*(sender.write() for sender in senders))
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    for sender in senders:
        for view in (sender.peer, sender.view):
            await view.wait_until(shows_all(view, sender), max(0.1, deadline - time.monotonic()))

    # Every receiver (and the sender's own view) shows each text exactly once, in the order
    # written, at a number the database gives that sender's next message; nothing is left to send.
    final = await sync_to_async(stored_messages)(conversations)
    rows = {(c, seq): (device, sender_seq) for c, seq, device, sender_seq, _ in final}
    for sender in senders:
        conversation = sender.view.conversation
        for view in (sender.peer, sender.view):
            shown = shown_from(view, sender.device)
            assert [body for _, body in shown] == sender.written, sender.name
            for number, (seq, _) in enumerate(shown):
                assert rows[(conversation, seq)] == (sender.device, sender.first_seq + number)
        shown_at = {body: seq for seq, body in shown_from(sender.peer, sender.device)}
        for body, seq in sender.acked_before_kill.items():
            assert shown_at[body] == seq, body  # acknowledged before the kill, kept as it was
        assert sender.view.outbox == {}, sender.name
        assert sender.view.warnings() == [], sender.name
    for agent in agents:
        assert agent.errors == [], agent.username

    # The database holds each message once: per sender every number from 1 to its last, and
    # per conversation as many messages as both sides wrote (with the pre-chat form).
    numbers = defaultdict(list)
    for c, _, device, sender_seq, _ in final:
        numbers[(c, device)].append(sender_seq)
    for sender in senders:
        last = sender.first_seq + MESSAGES - 1
        assert sorted(numbers[(sender.view.conversation, sender.device)]) == list(
            range(1, last + 1)
        ), sender.name
    per_conversation = Counter(c for c, *_ in final)
    for conversation in conversations:
        assert per_conversation[conversation] == 1 + 2 * MESSAGES, conversation

    # Batches held several conversations' messages: a batch's messages share their created_at.
    batches: dict[datetime, set[str]] = defaultdict(set)
    for c, *_, created in final:
        batches[created].add(c)
    largest = max(len(members) for members in batches.values())
    assert largest > 1

    print(
        f"\n{CONVERSATIONS} conversations, {len(senders)} senders; at the kill {acked} texts "
        f"acknowledged ({fewest} to {most} a sender), {len(in_flight)} in flight (of which "
        f"{len(committed_unacked)} stored but not acknowledged, "
        f"{len(in_flight) - len(committed_unacked)} lost with the server and sent again from "
        f"the outboxes); {len(final)} messages stored in {len(batches)} batches, at most "
        f"{largest} conversations in one; set-up {set_up:.1f} s, restart {restarted:.1f} s, "
        f"whole test {time.monotonic() - began:.1f} s"
    )
