"""The chat sockets and the widget API: who may do what, and clear errors for bad input."""

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.test import Client

from agents.models import Agent, Device, Tenant
from chat.actions import devices, messages, offers, presence
from chat.broadcast import queue_group
from chat.models import Conversation, Event
from sealdesk_client import protocol
from tests.factories import Staff, b64, start_with_keys
from tests.sockets import Socket, open_agent_socket, open_widget_socket

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "https://www.acme.example"


class Started:
    """A conversation started through the actions, with its customer's keys and epoch 0."""

    def __init__(self, staff: Staff) -> None:
        self.keys, self.conversation, self.token = start_with_keys(staff)
        self.tenant = staff.tenant.widget_id
        self.id = str(self.conversation.id)
        self.epoch = protocol.make_epoch(
            self.keys, self.tenant, self.id, None, [self.keys.member("customer")]
        )
        self.key = protocol.new_epoch_key()
        wrap = protocol.wrap_key(
            self.keys, self.keys.member("customer"), self.tenant, self.id, 0, self.key
        )
        messages.do_add_epoch(
            self.conversation,
            self.conversation.customer_device,
            self.epoch.to_json(),
            [wrap.to_json()],
        )

    def envelope(self, seq: int, body: str = "hello", keys: protocol.DeviceKeys | None = None):
        return protocol.encrypt_message(
            keys or self.keys,
            self.tenant,
            self.id,
            self.epoch,
            self.key,
            seq,
            {"type": "text", "body": body, "sent_at": "2026-11-28T00:00:00Z"},
            after=protocol.head_after(self.tenant, self.id, [self.epoch]),
        )


async def customer_socket(widget_id: str, origin: str = PAGE) -> tuple[Socket, bool, Any]:
    return await open_widget_socket(widget_id, origin)


async def agent_socket(user: User, device: str = "") -> Socket:
    communicator, connected, _ = await open_agent_socket(user, device)
    assert connected
    hello = await communicator.receive_frame()
    assert hello["type"] == "hello"
    return communicator


async def ask(communicator: Socket, frame: dict[str, Any]) -> dict[str, Any]:
    await communicator.send_to(text_data=json.dumps(frame))
    while True:
        reply = await communicator.receive_frame()
        if reply["type"] not in ("event", "typing", "queue", "presence", "offer"):
            return reply


async def authed_customer(started: Started) -> Socket:
    socket, connected, _ = await customer_socket(started.tenant)
    assert connected
    hello = await ask(socket, {"type": "auth", "conversation": started.id, "token": started.token})
    assert hello["type"] == "hello"
    return socket


async def stored_messages(started: Started) -> int:
    return await Event.objects.filter(conversation_id=started.id, kind=Event.Kind.MESSAGE).acount()


async def test_customer_sends_and_receives_its_own_event(acme: Staff) -> None:
    started = await database_sync_to_async(Started)(acme)
    socket = await authed_customer(started)
    envelope = started.envelope(1)
    sent = await ask(
        socket,
        {"type": "send", "conversation": started.id, "envelope": envelope.to_json(), "ref": 7},
    )
    assert sent == {"type": "sent", "conversation": started.id, "seq": 2, "sender_seq": 1, "ref": 7}
    event = await socket.receive_frame()
    assert event["type"] == "event"
    assert event["event"]["kind"] == "message"
    assert event["event"]["body"] == envelope.to_json()
    await socket.disconnect()


async def test_customer_socket_from_a_page_the_tenant_did_not_allow_is_refused(
    acme: Staff,
) -> None:
    _, connected, code = await customer_socket(acme.tenant.widget_id, "https://evil.example")
    assert not connected
    assert code == 4403


async def test_unknown_or_inactive_widget_is_refused(acme: Staff) -> None:
    _, connected, code = await customer_socket("wid_nope")
    assert (connected, code) == (False, 4404)
    await Tenant.objects.filter(pk=acme.tenant.pk).aupdate(is_active=False)
    _, connected, code = await customer_socket(acme.tenant.widget_id)
    assert (connected, code) == (False, 4404)


async def test_wrong_token_or_another_tenants_widget_finds_nothing(
    acme: Staff, globex: Staff
) -> None:
    started = await database_sync_to_async(Started)(acme)
    socket, _, _ = await customer_socket(acme.tenant.widget_id)
    reply = await ask(socket, {"type": "auth", "conversation": started.id, "token": "guess"})
    assert reply["code"] == "not_found"
    await socket.disconnect()
    await Tenant.objects.filter(pk=globex.tenant.pk).aupdate(allowed_origins=PAGE)
    socket, _, _ = await customer_socket(globex.tenant.widget_id)
    reply = await ask(socket, {"type": "auth", "conversation": started.id, "token": started.token})
    assert reply["code"] == "not_found"
    await socket.disconnect()


async def test_frames_before_auth_are_refused(acme: Staff) -> None:
    started = await database_sync_to_async(Started)(acme)
    socket, _, _ = await customer_socket(acme.tenant.widget_id)
    reply = await ask(socket, {"type": "sync", "conversation": started.id, "after": 0})
    assert reply["code"] == "not_authenticated"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("forged", "bad_signature"),
        ("other_sender", "wrong_sender"),
        ("skip", "seq_out_of_order"),
        ("garbage", "malformed_envelope"),
        ("unknown_epoch", "unknown_epoch"),
    ],
)
async def test_bad_envelopes_are_refused_and_nothing_is_stored(
    acme: Staff, tamper: str, code: str
) -> None:
    started = await database_sync_to_async(Started)(acme)
    socket = await authed_customer(started)
    stranger = protocol.generate_device()
    envelope: Any = started.envelope(1).to_json()
    if tamper == "forged":
        envelope["sig"] = started.envelope(1, keys=stranger).to_json()["sig"]
    elif tamper == "other_sender":
        envelope = started.envelope(1, keys=stranger).to_json()
    elif tamper == "skip":
        envelope = started.envelope(2).to_json()
    elif tamper == "garbage":
        envelope = {"epoch": "zero"}
    elif tamper == "unknown_epoch":
        envelope = protocol.encrypt_message(
            started.keys,
            started.tenant,
            started.id,
            dataclasses.replace(started.epoch, epoch=5),
            started.key,
            1,
            {"type": "text", "body": "x", "sent_at": "2026-11-28T00:00:00Z"},
            after=protocol.head_after(started.tenant, started.id, [started.epoch]),
        ).to_json()
    reply = await ask(socket, {"type": "send", "conversation": started.id, "envelope": envelope})
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert await stored_messages(started) == 0
    # The connection survives and a good message still goes through.
    good = await ask(
        socket,
        {"type": "send", "conversation": started.id, "envelope": started.envelope(1).to_json()},
    )
    assert good["type"] == "sent"
    await socket.disconnect()


async def test_the_same_sender_number_with_other_content_is_a_conflict(acme: Staff) -> None:
    started = await database_sync_to_async(Started)(acme)
    socket = await authed_customer(started)
    frame = {"type": "send", "conversation": started.id}
    first = await ask(socket, {**frame, "envelope": started.envelope(1, "one").to_json()})
    assert first["type"] == "sent"
    other = await ask(socket, {**frame, "envelope": started.envelope(1, "two").to_json()})
    assert other["code"] == "seq_conflict"
    assert await stored_messages(started) == 1
    await socket.disconnect()


async def test_a_closed_conversation_takes_no_more_messages(acme: Staff) -> None:
    started = await database_sync_to_async(Started)(acme)
    socket = await authed_customer(started)
    closed = await ask(socket, {"type": "close", "conversation": started.id, "ref": "bye"})
    assert closed == {"type": "closed", "conversation": started.id, "ref": "bye"}
    event = await Event.objects.aget(conversation_id=started.id, kind=Event.Kind.CLOSED)
    assert event.body == {"by": "customer", "disposition": ""}
    conversation = await Conversation.objects.aget(pk=started.id)
    assert conversation.state == Conversation.State.CLOSED
    reply = await ask(
        socket,
        {"type": "send", "conversation": started.id, "envelope": started.envelope(1).to_json()},
    )
    assert reply["code"] == "conversation_closed"
    await socket.disconnect()


async def test_outsider_agent_cannot_read_write_or_route_the_conversation(
    acme: Staff, globex: Staff
) -> None:
    started = await database_sync_to_async(Started)(acme)
    otto_keys = protocol.generate_device()
    otto_device = await database_sync_to_async(devices.do_register_agent_device)(
        globex.agent, b64(otto_keys.sign_public), b64(otto_keys.box_public), "test"
    )
    await database_sync_to_async(presence.do_set_presence)(globex.agent, Agent.Presence.AVAILABLE)
    otto = await agent_socket(globex.agent.user, otto_device.id)
    for frame in (
        {"type": "sync", "conversation": started.id, "after": 0},
        {"type": "send", "conversation": started.id, "envelope": started.envelope(1).to_json()},
        {"type": "typing", "conversation": started.id},
        {"type": "close", "conversation": started.id, "disposition": "spam"},
        {"type": "epoch", "conversation": started.id, "record": started.epoch.to_json()},
    ):
        reply = await ask(otto, frame)
        assert reply["code"] == "not_found", frame["type"]
    offers = await database_sync_to_async(list)(
        started.conversation.offers.values_list("agent_id", flat=True)
    )
    assert globex.agent.pk not in offers
    reply = await ask(otto, {"type": "offer.accept", "offer": 1})
    assert reply["code"] == "unknown_offer"
    conversation = await Conversation.objects.aget(pk=started.id)
    assert conversation.state == Conversation.State.QUEUED
    await otto.disconnect()


async def test_colleague_who_is_not_in_the_conversation_cannot_read_it(acme: Staff) -> None:
    started = await database_sync_to_async(Started)(acme)
    sam = await agent_socket(acme.supervisor.user)
    reply = await ask(sam, {"type": "sync", "conversation": started.id, "after": 0})
    assert reply["code"] == "not_found"
    await sam.disconnect()


async def test_agent_without_a_registered_device_cannot_accept(acme: Staff) -> None:
    alice = await agent_socket(acme.agent.user, "0" * 32)
    reply = await ask(alice, {"type": "offer.accept", "offer": 1})
    assert reply["code"] == "unknown_device"
    await alice.disconnect()


def test_widget_config_answers_allowed_origins_only(acme: Staff, client: Client) -> None:
    url = f"/api/widget/{acme.tenant.widget_id}/config"
    ok = client.get(url, headers={"origin": PAGE})
    assert ok.status_code == 200
    assert ok["Access-Control-Allow-Origin"] == PAGE
    assert ok.json() == {
        "tenant": {"id": acme.tenant.widget_id, "name": "Acme"},
        "teams": [
            {
                "id": acme.team.pk,
                "name": "Support",
                "open": True,
                "opens_at": None,
                "time_zone": "UTC",
                "messages": False,
            }
        ],
        "org": None,
        "supervision": "off",
        "message_after_seconds": None,
        "brand": {"color": "#1f5fbf", "position": "right"},  # Sealdesk's own until Acme sets one
        "texts": {},
    }
    refused = client.get(url, headers={"origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in refused
    preflight = client.options(
        f"/api/widget/{acme.tenant.widget_id}/conversations", headers={"origin": PAGE}
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert client.get("/api/widget/wid_nope/config", headers={"origin": PAGE}).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not json", 400, "malformed_body"),
        ({"team": "x", "device": {}}, 400, "unknown_team"),
        ({"device": {"sign_public": "AAAA", "box_public": "AAAA"}}, 400, "unknown_team"),
        ("keys", 400, "invalid_key"),
        ("small-order keys", 400, "invalid_key"),
        ("huge", 413, "body_too_large"),
        ("<script>", 400, "invalid_language"),
        (7, 400, "invalid_language"),
        ("en-" + "x" * 40, 400, "invalid_language"),
    ],
)
def test_starting_a_conversation_with_bad_input_is_a_clear_error(
    acme: Staff, client: Client, body: Any, status: int, code: str
) -> None:
    if body == "keys":
        body = {"team": acme.team.pk, "device": {"sign_public": "AAAA", "box_public": "!!"}}
    elif body == "small-order keys":  # the identity point, under which R = identity, S = 0 verifies
        small = {"sign_public": b64(bytes([1]) + bytes(31)), "box_public": b64(bytes(32))}
        body = {"team": acme.team.pk, "device": small}
    elif code == "invalid_language":
        keys = protocol.generate_device()
        device = {"sign_public": b64(keys.sign_public), "box_public": b64(keys.box_public)}
        body = {"team": acme.team.pk, "device": device, "language": body}
    payload = (
        "x" * 20_000 if body == "huge" else (body if isinstance(body, str) else json.dumps(body))
    )
    response = client.post(
        f"/api/widget/{acme.tenant.widget_id}/conversations",
        payload,
        content_type="application/json",
        headers={"origin": PAGE},
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    assert Conversation.objects.count() == 0


def test_starting_a_conversation_answers_its_token_once(acme: Staff, client: Client) -> None:
    keys = protocol.generate_device()
    response = client.post(
        f"/api/widget/{acme.tenant.widget_id}/conversations",
        {
            "team": acme.team.pk,
            "device": {"sign_public": b64(keys.sign_public), "box_public": b64(keys.box_public)},
        },
        content_type="application/json",
        headers={"origin": PAGE},
    )
    assert response.status_code == 201
    body = response.json()
    conversation = Conversation.objects.get()
    assert body["conversation"]["id"] == str(conversation.id)
    assert body["conversation"]["customer_device"]["id"] == keys.device_id
    assert body["queue_position"] == 1
    assert body["token"] not in conversation.customer_token_hash
    assert len(body["token"]) >= 40


def queue_group_size(team_id: int) -> int:
    """How many sockets listen to the team's queue, in either channel layer this suite runs on."""
    layer = get_channel_layer()
    inner = layer._get_layer() if hasattr(layer, "_get_layer") else layer  # Redis: per loop
    group = queue_group(team_id)
    if hasattr(inner, "_get_group_channel_name"):
        group = inner._get_group_channel_name(group)
    return len(inner.groups.get(group, ()))


async def test_a_customer_socket_leaves_the_queue_once_its_chat_is_taken(acme: Staff) -> None:
    """Queue positions concern waiting customers only; every listener costs a query per change."""
    started = await database_sync_to_async(Started)(acme)
    customer = await authed_customer(started)
    assert queue_group_size(acme.team.pk) == 1

    def take() -> None:
        device = Device.objects.create(
            id="d" * 32,
            tenant=acme.tenant,
            kind=Device.Kind.AGENT,
            agent=acme.agent,
            sign_public="A" * 43 + "=",
            box_public="B" * 43 + "=",
        )
        offer = offers.do_offer(started.conversation, acme.agent)
        assert offer is not None
        offers.do_accept_offer(acme.agent, device, offer.pk)

    await database_sync_to_async(take)()
    joined = await customer.receive_frame()  # the agent's "joined" event, then the queue change
    assert joined["type"] == "event"
    for _ in range(50):
        if queue_group_size(acme.team.pk) == 0:
            break
        await asyncio.sleep(0.02)
    assert queue_group_size(acme.team.pk) == 0

    # Reconnecting to a chat that is taken does not join the queue again.
    again = await authed_customer(started)
    assert queue_group_size(acme.team.pk) == 0
    await customer.disconnect()
    await again.disconnect()
