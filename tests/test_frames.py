"""Frames as a contract: sealdesk_client/frames.py, its JavaScript mirror, docs/PROTOCOL.md, and
what the server really sends.

The lifecycle test works like Zulip's verify_action: it drives every action a client can ask
for through real sockets (Alice's dashboard, two customers' widgets), collects every frame each
socket receives after each step, and checks each against the contract's schema for that
socket; at the end every server frame the contract lists must have been seen at least once, so a
frame the server stops sending, or one the contract forgets, fails here.
"""

import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.utils import timezone

from agents.models import Agent
from chat import states
from chat.actions import devices, messages, offers, presence
from chat.builtin_router import REOFFER_AFTER, BuiltinRouter
from chat.models import Conversation, Offer
from sealdesk_client import frames, protocol
from tests.factories import (
    Staff,
    b64,
    certified_device,
    make_agent,
    pending,
    start_with_keys,
    with_org_key,
)
from tests.sockets import Socket, open_agent_socket, open_widget_socket

ROOT = Path(__file__).resolve().parent.parent
PAGE = "https://www.acme.example"


# The JavaScript mirror and the document.


def javascript_contract() -> dict[str, Any]:
    script = (
        "const m = await import(process.argv[1]);"
        "const constants = Object.fromEntries(Object.entries(m).filter(([k, v]) =>"
        " typeof v === 'string' && k === k.toUpperCase()));"
        "console.log(JSON.stringify({constants, schema: m.SCHEMA, errors: m.ERRORS}));"
    )
    output = subprocess.run(
        ["node", "--input-type=module", "-e", script, str(ROOT / "static/sealdesk/frames.js")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    contract: dict[str, Any] = json.loads(output)
    return contract


def python_constants() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(frames).items()
        if name.isupper() and isinstance(value, str) and not name.endswith("REF")
    }


def test_the_javascript_frames_module_mirrors_the_python_one_name_for_name() -> None:
    js = javascript_contract()
    assert js["constants"] == python_constants()
    assert js["schema"] == frames.SCHEMA
    assert js["errors"] == list(frames.ERRORS)  # the codes; their meanings stay server-side


def doc_tables() -> tuple[set[tuple[str, str, str, tuple[str, ...]]], dict[str, str]]:
    """Return the frames docs/PROTOCOL.md lists (socket, direction, type, fields) and its
    error codes with their meanings."""
    text = (ROOT / "docs/PROTOCOL.md").read_text()
    sockets = {
        "### Frames both sockets share": ("agent", "widget"),
        "### Agent socket": ("agent",),
        "### Widget socket": ("widget",),
    }
    listed: set[tuple[str, str, str, tuple[str, ...]]] = set()
    section: tuple[str, ...] = ()
    errors: dict[str, str] = {}
    in_errors = False
    for line in text.splitlines():
        if line.startswith("#"):
            section = next((v for k, v in sockets.items() if line.startswith(k)), ())
            in_errors = line == "## Error codes"
            continue
        cells = (
            [cell.strip() for cell in line.strip("|").split("|")] if line.startswith("|") else []
        )
        frame_row = re.fullmatch(r"`([a-z._]+)`", cells[0]) if cells else None
        if section and frame_row and cells[1] in ("server to client", "client to server"):
            direction = "server" if cells[1] == "server to client" else "client"
            fields = tuple(re.findall(r"`([a-z_?]+)`", cells[2]))
            for socket in section:
                listed.add((socket, direction, frame_row.group(1), fields))
        elif in_errors and frame_row:
            errors[frame_row.group(1)] = cells[1]
    return listed, errors


def test_the_protocol_document_lists_every_frame_with_its_fields_and_every_error_code() -> None:
    listed, errors = doc_tables()
    contract = {
        (socket, direction, frame_type, tuple(fields))
        for socket, directions in frames.SCHEMA.items()
        for direction, table in directions.items()
        for frame_type, fields in table.items()
    }
    assert sorted(listed - contract) == [], "in docs/PROTOCOL.md but not in the contract"
    assert sorted(contract - listed) == [], "in the contract but not in docs/PROTOCOL.md"
    assert errors == frames.ERRORS


def test_every_error_code_the_server_can_send_is_in_the_contract() -> None:
    sources = [
        *ROOT.glob("chat/**/*.py"),
        *ROOT.glob("agents/**/*.py"),
        *ROOT.glob("contactcenter/*.py"),
    ]
    pattern = re.compile(
        r"\b(?:ChatError|send_error|error)\(\s*\"([a-z_]+)\"|"
        r"\"code\": \"([a-z_]+)\"|\b[A-Z_]+ = \(\"([a-z_]+)\""
    )
    used = {
        code
        for path in sources
        if "/migrations/" not in str(path)
        for match in pattern.finditer(path.read_text())
        for code in match.groups()
        if code
    }
    used |= {code for code, _ in states.CONVERSATION_REFUSALS.values()}
    assert len(used) > 30
    assert sorted(used - frames.ERRORS.keys()) == []


def test_a_frame_that_does_not_fit_its_schema_is_named_and_a_fitting_one_is_not() -> None:
    assert (
        frames.problems("agent", "server", {"type": "offer.gone", "offer": 3, "reason": "x"}) == []
    )
    assert frames.problems("agent", "server", {"type": "offer.gone", "offer": True}) == [
        "offer.gone: offer is not integer",
        "offer.gone: reason is missing",
    ]
    newer = {"type": "queue", "position": 1, "wait_seconds": None, "x": 2}
    assert frames.problems("widget", "server", newer) == ["queue: x is not in the contract"]
    assert frames.problems("widget", "server", newer, extra=True) == []
    assert frames.problems("widget", "client", {"type": "presence.set"}) == [
        "no client frame 'presence.set' on the widget socket"
    ]
    assert frames.problems("agent", "client", {"type": "sync", "conversation": "c"}) == []


# What the server sends, checked frame by frame.


class Watched:
    """A socket whose every received frame is checked against the contract and remembered."""

    def __init__(self, communicator: Socket) -> None:
        self.socket = communicator.socket
        self.communicator = communicator
        self.seen: list[dict[str, Any]] = []

    async def drain(self) -> list[dict[str, Any]]:
        """Return the frames that arrived since the last drain, each checked."""
        got = []
        while self.communicator.pending or not await self.communicator.receive_nothing(0.3):
            got.append(await self.communicator.receive_frame(timeout=1))
        self.seen += got
        return got

    async def ask(self, frame: dict[str, Any], fits: bool = True) -> list[dict[str, Any]]:
        """Send a client frame, which FITS the contract or not; return what came back."""
        assert (frames.problems(self.socket, "client", frame) == []) == fits, frame
        await self.communicator.send_to(text_data=json.dumps(frame))
        return await self.drain()


def types(got: list[dict[str, Any]]) -> list[str]:
    return [frame["type"] for frame in got]


async def agent_socket(user: User, device: str) -> Watched:
    communicator, connected, _ = await open_agent_socket(user, device)
    assert connected
    return Watched(communicator)


async def widget_socket(widget_id: str) -> Watched:
    communicator, connected, _ = await open_widget_socket(widget_id, PAGE)
    assert connected
    return Watched(communicator)


class Customer:
    """A customer with fresh keys and a started conversation."""

    def __init__(self, staff: Staff) -> None:
        self.keys, self.conversation, self.token = start_with_keys(staff)
        self.tenant = staff.tenant.widget_id
        self.id = str(self.conversation.id)

    def epoch_frame(self) -> dict[str, Any]:
        me = self.keys.member("customer")
        record = self.record = protocol.make_epoch(self.keys, self.tenant, self.id, None, [me])
        self.key = protocol.new_epoch_key()
        wrap = protocol.wrap_key(self.keys, me, self.tenant, self.id, 0, self.key)
        return {
            "type": frames.EPOCH,
            "conversation": self.id,
            "record": record.to_json(),
            "wraps": [wrap.to_json()],
            "ref": "e0",
        }

    def add_agent_frame(self, agent: protocol.DeviceKeys) -> dict[str, Any]:
        """Return the customer's epoch 1 with the agent in it, and the agent's share frame of
        epoch 0's key (the server checks only who wraps and which epoch)."""
        members = [self.keys.member("customer"), agent.member("agent")]
        record = protocol.make_epoch(self.keys, self.tenant, self.id, self.record, members)
        self.records = [self.record, record]
        old, self.key = self.key, protocol.new_epoch_key()
        wraps = [
            protocol.wrap_key(self.keys, member, self.tenant, self.id, 1, self.key).to_json()
            for member in members
        ]
        self.share = protocol.wrap_key(agent, members[1], self.tenant, self.id, 0, old)
        return {
            "type": frames.EPOCH,
            "conversation": self.id,
            "record": record.to_json(),
            "wraps": wraps,
        }

    def send_frame(
        self, seq: int, sender: protocol.DeviceKeys | None = None, epoch: int = 0
    ) -> dict[str, Any]:
        records = getattr(self, "records", [self.record])
        envelope = protocol.encrypt_message(
            sender or self.keys,
            self.tenant,
            self.id,
            records[epoch],
            self.key,
            seq,
            {"type": "text", "body": "Where is my parcel?", "sent_at": "2026-12-01T00:00:00Z"},
            after=protocol.head_after(self.tenant, self.id, records[: epoch + 1]),
        )
        return {"type": frames.SEND, "conversation": self.id, "envelope": envelope.to_json()}


@pytest.mark.django_db(transaction=True)
async def test_every_frame_of_a_whole_conversation_fits_the_contract(acme: Staff) -> None:
    alice_keys = protocol.generate_device()
    device = await database_sync_to_async(devices.do_register_agent_device)(
        acme.agent, b64(alice_keys.sign_public), b64(alice_keys.box_public), "test"
    )
    alice = await agent_socket(acme.agent.user, device.id)
    assert types(await alice.drain()) == [frames.HELLO]
    assert frames.PRESENCE in types(
        await alice.ask({"type": frames.PRESENCE_SET, "presence": "available"})
    )

    # Two customers wait; Alice is offered both, declines the first, and it comes back to her a
    # minute later (the decline is moved back in time here).
    first = await database_sync_to_async(Customer)(acme)
    second = await database_sync_to_async(Customer)(acme)
    carol, dave = await widget_socket(first.tenant), await widget_socket(second.tenant)
    for customer, widget in ((first, carol), (second, dave)):
        hello = await widget.ask(
            {"type": frames.AUTH, "conversation": customer.id, "token": customer.token, "ref": 1}
        )
        assert types(hello) == [frames.HELLO]
    offered = {f["offer"]["conversation"]: f["offer"] for f in await alice.drain()}
    assert offered.keys() == {first.id, second.id}
    offer_id = offered[first.id]["id"]
    declined = await alice.ask({"type": frames.OFFER_DECLINE, "offer": offer_id})
    assert [f.get("reason") for f in declined if f["type"] == frames.OFFER_GONE] == ["declined"]

    def offered_again() -> Offer:
        earlier = timezone.now() - REOFFER_AFTER - timedelta(seconds=1)
        Offer.objects.filter(pk=offer_id).update(decided_at=earlier)
        BuiltinRouter(acme.tenant).dispatch(acme.team)
        return Offer.objects.get(conversation=first.conversation, state=Offer.State.PENDING)

    again = await database_sync_to_async(offered_again)()
    await alice.drain()

    # Alice accepts: she follows the chat, the customer sees her join, the second moves up.
    accepted = await alice.ask({"type": frames.OFFER_ACCEPT, "offer": again.pk})
    # (Her socket follows the chat from the conversation frame on, after the joined event was
    # sent: the dashboard syncs it.)
    assert types(accepted) == [frames.OFFER_GONE, frames.CONVERSATION]
    assert types(await carol.drain()) == [frames.EVENT]
    # (Its estimate comes from Carol's wait just now: tests/test_queue_estimate.py checks it.)
    [moved_up] = await dave.drain()
    assert (moved_up["type"], moved_up["position"]) == (frames.QUEUE, 1)

    # The customer keys the chat and writes; Alice syncs; typing reaches the other side.
    assert frames.STORED in types(await carol.ask(first.epoch_frame()))
    assert frames.SENT in types(await carol.ask(first.send_frame(1)))
    assert types(await alice.drain()) == [frames.EVENT, frames.EVENT]
    synced = await alice.ask({"type": frames.SYNC, "conversation": first.id, "after": 0})
    assert [f["type"] for f in synced] == [frames.EVENTS]
    assert frames.STORED in types(await carol.ask(first.add_agent_frame(alice_keys)))
    share = {"type": frames.SHARE, "conversation": first.id, "wraps": [first.share.to_json()]}
    assert frames.STORED in types(await alice.ask(share))
    assert frames.SENT in types(await alice.ask(first.send_frame(1, alice_keys, epoch=1)))
    assert types(await carol.drain()) == [frames.EVENT, frames.EVENT]
    await carol.ask({"type": frames.TYPING, "conversation": first.id})
    assert types(await alice.drain()) == [frames.TYPING]
    await alice.ask({"type": frames.TYPING, "conversation": first.id})
    assert types(await carol.drain()) == [frames.TYPING]
    synced = await carol.ask({"type": frames.SYNC, "conversation": first.id, "after": 1, "ref": 2})
    assert types(synced) == [frames.EVENTS] and synced[0]["ref"] == 2

    # Refusals are error frames, with the request's ref when it had one.
    refused = await alice.ask({"type": "offer.take", "ref": 9}, fits=False)
    assert [(f["type"], f["code"]) for f in refused] == [(frames.ERROR, "unknown_type")]
    malformed = await alice.ask({"type": frames.SYNC, "conversation": 5, "ref": 10}, fits=False)
    assert [(f["code"], f["ref"]) for f in malformed] == [("malformed_frame", 10)]
    wrong = await carol.ask(
        {"type": frames.PRESENCE_SET, "presence": "away", "ref": "p"}, fits=False
    )
    assert [(f["code"], f["ref"]) for f in wrong] == [("unknown_type", "p")]

    # The second chat's offer times out and the customer leaves; Alice closes the first.
    await database_sync_to_async(offers.do_expire_offers)(timezone.now() + timedelta(hours=1))
    missed = await alice.drain()
    assert "expired" in [f.get("reason") for f in missed]
    # Having missed it, Alice is set Away (Acme's setting); she comes back.
    assert "away" in [f.get("presence") for f in missed if f["type"] == frames.PRESENCE]
    await alice.ask({"type": frames.PRESENCE_SET, "presence": "available"})
    assert frames.CLOSED in types(await dave.ask({"type": frames.CLOSE, "conversation": second.id}))
    # Once it has ended, the customer rates it (metadata for the tenant's reports).
    rate = {"type": frames.RATE, "conversation": second.id, "score": 4, "ref": "r"}
    assert frames.RATED in types(await dave.ask(rate))
    closed = await alice.ask(
        {"type": frames.CLOSE, "conversation": first.id, "disposition": "resolved", "ref": "c"}
    )
    assert frames.CLOSED in types(closed)
    assert types(await carol.drain()) == [frames.EVENT]

    # Once Acme has an organisation key, Alice asks Bob into a third chat, and leaves it to him.
    third = await database_sync_to_async(Customer)(acme)
    bob = await database_sync_to_async(conference_ready)(acme, alice_keys, third.conversation)
    await alice.drain()
    asked = await alice.ask(
        {"type": frames.INVITE, "conversation": third.id, "agent": bob.pk,
         "purpose": "conference", "ref": "i"}
    )  # fmt: skip
    invitation = next(f["invitation"] for f in asked if f.get("ref") == "i")
    bob_device = await bob.devices.aget()
    await database_sync_to_async(offers.do_accept_offer)(bob, bob_device, invitation["offer"])
    assert frames.INVITATION in types(await alice.drain())
    epoch = third.epoch_frame()  # the customer's epoch 0, which Alice's leave is signed in
    await database_sync_to_async(messages.do_add_epoch)(
        third.conversation, third.conversation.customer_device, epoch["record"], epoch["wraps"]
    )
    envelope = third.send_frame(1, alice_keys)["envelope"]
    left = await alice.ask(
        {"type": frames.LEAVE, "conversation": third.id, "envelope": envelope, "ref": "l"}
    )
    assert (frames.LEFT, "l") in [(f["type"], f.get("ref")) for f in left]

    # A customer leaves a message for the team instead of waiting (docs/PROTOCOL.md, "Messages
    # left"): Alice's approved second browser is one it is encrypted to; her list changes.
    def waiting_pinned() -> Customer:
        certified_device(acme, acme.agent)  # the tenant made its organisation key above
        customer = Customer(acme)
        Conversation.objects.filter(pk=customer.id).update(customer_pins=True)
        return customer

    fourth = await database_sync_to_async(waiting_pinned)()
    erin = await widget_socket(fourth.tenant)
    await erin.ask({"type": frames.AUTH, "conversation": fourth.id, "token": fourth.token})
    left_message = await erin.ask(
        {"type": frames.LEAVE_MESSAGE, "conversation": fourth.id, "ref": "m"}
    )
    assert (frames.MESSAGE_LEFT, "m") in [(f["type"], f.get("ref")) for f in left_message]
    notify = {"type": frames.NOTIFY, "conversation": fourth.id, "email": "erin@example.com"}
    assert [(f["type"], f["notify"]) for f in await erin.ask(notify)] == [(frames.NOTIFY_SET, True)]
    listed = [f for f in await alice.drain() if f["type"] == frames.MESSAGES]
    assert [m["id"] for m in listed[-1]["messages"]] == [fourth.id]

    # Between them, the sockets received every server frame the contract lists.
    for socket, watched in (("agent", [alice]), ("widget", [carol, dave, erin])):
        seen = {frame["type"] for w in watched for frame in w.seen}
        assert set(frames.SCHEMA[socket]["server"]) - seen == set(), socket
        for w in watched:
            await w.communicator.disconnect()
    assert await Conversation.objects.filter(state=Conversation.State.CLOSED).acount() == 2
    assert await Conversation.objects.filter(state=Conversation.State.MESSAGE).acount() == 1


def conference_ready(
    staff: Staff, alice_keys: protocol.DeviceKeys, conversation: Conversation
) -> Agent:
    """Give Acme an organisation key, approve Alice's browser and one of Bob's, and hand Alice
    CONVERSATION; return Bob, available."""
    with_org_key(staff)
    _, alice_device = certified_device(staff, staff.agent, keys=alice_keys)
    bob = make_agent(staff.tenant, "bob", teams=(staff.team,))
    certified_device(staff, bob)
    presence.do_set_presence(bob, Agent.Presence.AVAILABLE)
    # The router may have offered it to Alice already, when the customer started it.
    offer = pending(conversation) or offers.do_offer(conversation, staff.agent)
    assert offer is not None and offer.agent == staff.agent
    offers.do_accept_offer(staff.agent, alice_device, offer.pk)
    return bob
