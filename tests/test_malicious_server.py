"""A server that turns against its users: it swaps a message in from another conversation,
replays one, alters one and injects plaintext; it announces a device it holds to the dashboard,
and puts a forged customer fingerprint in the dashboard's summaries. The clients refuse each,
visibly, and go on. tests/js/malicious-server.test.mjs plays the same server, and more (reordering,
forks, a withheld tail, a forged close, a removed member), against static/sealdesk/chat.js.

The test plays the server by writing events straight into the database, past every check of
chat.actions, as a compromised server or its operator could.
"""

import asyncio
import base64
import json
import re
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from playwright.sync_api import WebSocketRoute, expect

from agents.models import Device, OrgKey
from chat.models import Conversation, Event
from sealdesk_client import protocol
from sealdesk_client.client import AgentClient, ConversationClient, Customer
from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    customer_says,
    log_in_agent,
    open_page,
    open_widget,
    outside_playwright,
    start_chat,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer, DemoSite

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://www.acme.example"
PRECHAT = {"name": "Carla", "email": "", "question": "Is my order on its way?"}
REFUSED = ["bad_signature", "replayed", "bad_signature", "bad_signature", "malformed"]


def forge(
    conversation_id: str, body: Any, sender: str | None, kind: str = Event.Kind.MESSAGE
) -> None:
    """Append an event as the server would, without any of the server's own checks."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        conversation.last_seq += 1
        conversation.save(update_fields=["last_seq"])
        Event.objects.create(
            conversation=conversation,
            seq=conversation.last_seq,
            kind=kind,
            body=body,
            sender_id=sender,
        )


def described(keys: protocol.DeviceKeys, **extra: Any) -> dict[str, Any]:
    """Return a device as the server describes it in a notice (chat/payloads.py)."""
    return {
        "id": keys.device_id,
        "sign_public": base64.b64encode(keys.sign_public).decode(),
        "box_public": base64.b64encode(keys.box_public).decode(),
        "fingerprint": protocol.fingerprint(keys.device_id),
        **extra,
    }


def message_bodies(conversation_id: str) -> list[dict[str, Any]]:
    return [
        e.body
        for e in Event.objects.filter(conversation_id=conversation_id, kind=Event.Kind.MESSAGE)
        .exclude(sender_id=None)
        .order_by("seq")
    ]


def attack(target: str, elsewhere: str, agent_device: str) -> None:
    """Swap in, replay, alter and inject, in this order (the order of REFUSED)."""
    theirs = message_bodies(elsewhere)
    ours = message_bodies(target)
    from_agent = next(b for b in theirs if b["sender"] == agent_device)
    forge(target, from_agent, agent_device)  # the same agent device, another conversation
    forge(target, ours[0], ours[0]["sender"])  # the customer's first message, again
    altered = dict(ours[-1])
    ct = bytearray(base64.b64decode(altered["ct"]))
    ct[0] ^= 1
    altered["ct"] = base64.b64encode(bytes(ct)).decode()
    forge(target, altered, altered["sender"])
    plain = dict(ours[-1])
    plain["ct"] = base64.b64encode(b'{"type":"text","body":"Send your password"}').decode()
    forge(target, plain, plain["sender"])
    forge(target, "Please send your card number to the server", None)


async def start_customer(staff: Staff, daphne: DaphneServer, name: str) -> Customer:
    customer = Customer(daphne.url, staff.tenant.widget_id, ORIGIN)
    await customer.start(staff.team.pk, {**PRECHAT, "name": name})
    return customer


async def test_python_clients_refuse_every_forged_event_and_keep_going(
    acme: Staff, daphne: DaphneServer, alice: AgentClient
) -> None:
    carla = await start_customer(acme, daphne, "Carla")
    dan = await start_customer(acme, daphne, "Dan")
    try:
        chat = await alice.accept_next_offer()
        other = await alice.accept_next_offer()
        if chat.conversation != carla.conversation:
            chat, other = other, chat
        await other.send_text("a reply that belongs to Dan's conversation")
        await carla.send_text("one")
        await chat.send_text("two")
        await chat.wait_until(lambda: len(chat.messages()) == 3)

        await database_sync_to_async(attack)(
            carla.conversation, dan.conversation, alice.keys.device_id
        )

        for view in (await chat.reloaded(), await carla.reloaded()):
            assert view.warnings() == REFUSED
            bodies = [m.get("body") or m.get("question") for m in view.messages()]
            assert bodies == [PRECHAT["question"], "one", "two"]

        # The refused events advanced nothing: the conversation goes on.
        await chat.send_text("three")
        await carla.wait_until(lambda: "three" in [m.get("body") for m in carla.messages()])
    finally:
        await carla.close()
        await dan.close()


async def test_a_device_the_server_announces_later_gets_no_key_and_no_history(
    acme: Staff, daphne: DaphneServer, alice: AgentClient
) -> None:
    carla = await start_customer(acme, daphne, "Carla")
    try:
        chat = await alice.accept_next_offer()
        await carla.send_text("for Alice only")
        spy = protocol.generate_device()
        notice = {
            "device": described(spy),
            "role": "agent",
            "name": "Alice",
        }
        await database_sync_to_async(forge)(carla.conversation, notice, None, Event.Kind.JOINED)
        await carla.sync()
        await carla.keep_epoch_current()
        await chat.send_text("still private")
        await carla.wait_until(lambda: "still private" in [m.get("body") for m in carla.messages()])

        def wraps_for_the_spy() -> int:
            return sum(
                wrap["recipient"] == spy.device_id
                for event in Event.objects.filter(
                    conversation_id=carla.conversation, kind=Event.Kind.EPOCH
                )
                for wrap in event.body["wraps"]
            )

        assert await database_sync_to_async(wraps_for_the_spy)() == 0
        assert carla.state is not None
        latest = carla.state.latest_epoch
        assert latest is not None
        members = {m.device_id for m in carla.state.members_of(latest)}
        assert members == {carla.keys.device_id, alice.keys.device_id}
    finally:
        await carla.close()


def test_widget_and_dashboard_show_a_warning_in_place_of_each_forged_event(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        agent, agent_problems = open_page(browser)
        customer, problems = open_page(browser)
        log_in_agent(agent, daphne.url, "alice", PASSWORD)
        dialog = open_widget(customer, demo_site, "Acme")
        start_chat(dialog, "Carla", "", "Is my order on its way?")
        accept_offer(agent, "Is my order on its way?")
        agent_says(agent, "Yes, it left today.")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text("it left today")
        conversation = outside_playwright(Conversation.objects.get, tenant=acme.tenant)
        agent_device = outside_playwright(lambda: acme.agent.devices.get().id)

        # A second conversation of the same agent, to take a message from.
        second = open_page(browser)[0]
        second_dialog = open_widget(second, demo_site, "Acme")
        start_chat(second_dialog, "Dan", "", "Another question")
        accept_offer(agent, "Another question")
        agent_says(agent, "Hello Dan.")
        expect(second_dialog.get_by_role("log", name="Messages")).to_contain_text("Hello Dan.")
        dan = outside_playwright(lambda: Conversation.objects.exclude(pk=conversation.pk).get())

        outside_playwright(attack, str(conversation.id), str(dan.id), agent_device)

        customer.reload()
        dialog = customer.locator("#sealdesk-widget").get_by_role("dialog")
        warnings = dialog.locator(".warning")
        expect(warnings).to_have_count(len(REFUSED))
        for warning, code in zip(warnings.all(), REFUSED, strict=True):
            expect(warning).to_contain_text(f"({code})")
        expect(warnings.first).to_contain_text("not signed by the device it names")
        expect(dialog.get_by_role("log", name="Messages")).not_to_contain_text("password")
        expect(dialog.get_by_role("log", name="Messages")).not_to_contain_text("card number")

        agent.reload()
        agent.locator("#conversations button", has_text="Carla").click()
        expect(agent.locator("#messages .warning")).to_have_count(len(REFUSED))
        expect(agent.locator("#messages")).not_to_contain_text("card number")
        expect(agent.locator("#messages")).to_contain_text("Yes, it left today.")

        assert csp_violations(customer) == []
        assert csp_violations(agent) == []
        assert problems.errors == []
        assert agent_problems.errors == []


FORGED_FINGERPRINT = "0000 1111 2222 3333 4444 5555 6666 7777"
SPY = protocol.generate_device()  # a device whose keys the server holds


def split_view(route: WebSocketRoute) -> None:
    """Relay the dashboard's socket as a malicious server would: every `joined` notice it shows
    names SPY in place of the device that joined, and every summary a forged customer
    fingerprint. The customer's widget sees the real notices."""
    server = route.connect_to_server()
    spy = described(SPY)

    def to_page(message: str | bytes) -> None:
        frame = json.loads(message)
        summaries = [*frame.get("conversations", []), frame.get("conversation")]
        for summary in summaries:
            if isinstance(summary, dict) and "customer_device" in summary:
                summary["customer_device"]["fingerprint"] = FORGED_FINGERPRINT
        events = [*frame.get("events", []), frame.get("event")]
        for event in events:
            if isinstance(event, dict) and event.get("kind") == "joined":
                event["body"] = {**event["body"], "device": spy, "name": "Alice (new laptop)"}
        route.send(json.dumps(frame))

    server.on_message(to_page)
    route.on_message(server.send)


def test_the_dashboard_hands_a_device_the_server_announces_nothing_and_computes_the_fingerprint(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    """The split join: the server tells Alice's dashboard that a device it holds joined, where
    the customer's widget is told Alice's device did. The dashboard makes no epoch and wraps no
    key for it (v1's dashboard made one without Alice, and shared every earlier key), and the
    customer's key fingerprint it shows is computed from epoch 0's keys, not the one the
    server's summaries carry."""
    with chromium() as browser:
        agent, agent_problems = open_page(browser)
        agent.route_web_socket(re.compile(r".*/ws/agent/.*"), split_view)
        customer, problems = open_page(browser)
        log_in_agent(agent, daphne.url, "alice", PASSWORD)
        dialog = open_widget(customer, demo_site, "Acme")
        start_chat(dialog, "Carla", "", "Is my order on its way?")
        accept_offer(agent, "Is my order on its way?")
        messages = agent.locator("#messages")
        expect(messages).to_contain_text("Alice (new laptop) joined the chat.")
        agent_says(agent, "Yes, it left today.")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text("it left today")
        customer_says(dialog, "Thank you!")
        expect(messages).to_contain_text("Thank you!")
        conversation = outside_playwright(Conversation.objects.get, tenant=acme.tenant)
        alice = outside_playwright(lambda: acme.agent.devices.get().id)
        real = protocol.fingerprint(conversation.customer_device_id)
        expect(agent.locator("#customer-fingerprint")).to_have_text(real)
        expect(messages).to_contain_text(
            f"Encryption: added your device {protocol.fingerprint(alice)}."
        )

        agent.reload()  # everything again, through the same lying relay
        agent.locator("#conversations button", has_text="Carla").click()
        expect(messages).to_contain_text("Thank you!")
        epochs = outside_playwright(
            lambda: list(
                Event.objects.filter(conversation=conversation, kind=Event.Kind.EPOCH).values_list(
                    "sender_id", "body"
                )
            )
        )
        assert {sender for sender, _ in epochs} == {conversation.customer_device_id}
        recipients = {wrap["recipient"] for _, body in epochs for wrap in body["wraps"]}
        assert recipients == {conversation.customer_device_id, alice}
        expect(messages).not_to_contain_text(protocol.fingerprint(SPY.device_id))
        expect(agent.locator("#customer-fingerprint")).to_have_text(real)
        expect(agent.locator("body")).not_to_contain_text(FORGED_FINGERPRINT)
        assert csp_violations(agent) == []
        assert problems.errors == []
        assert agent_problems.errors == []


def test_a_widget_pinning_the_organisation_key_lets_in_no_device_the_organisation_did_not_certify(
    acme: Staff, daphne: DaphneServer
) -> None:
    """The server tells the customer's widget that a device it holds joined, carrying a
    certificate in Alice's name that another key signed. The widget's tag pins Acme's
    organisation key: it shows the refusal, makes no epoch with that device and wraps it nothing."""
    org, other = protocol.OrgKey(bytes(range(32))), protocol.OrgKey(bytes(range(1, 33)))
    pin = protocol.fingerprint(org.id)
    outside_playwright(
        lambda: OrgKey.objects.create(
            tenant=acme.tenant, public_key=base64.b64encode(org.public_key).decode()
        )
    )
    site = DemoSite(daphne.url, acme.tenant.widget_id, org_key=pin)
    acme.tenant.allowed_origins = site.origin
    outside_playwright(acme.tenant.save)
    site.start()
    spy = protocol.generate_device()
    now = int(time.time())
    forged = protocol.certify(
        other,
        tenant=acme.tenant.widget_id,
        person=acme.agent.pk,
        name="Alice",
        role="agent",
        device=spy,
        issued=now,
        expires=now + 86_400,
    )

    def relay(route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            for event in [*frame.get("events", []), frame.get("event")]:
                if isinstance(event, dict) and event.get("kind") == "joined":
                    device = described(spy, cert=forged.to_json())
                    event["body"] = {**event["body"], "device": device}
            route.send(json.dumps(frame))

        server.on_message(to_page)
        route.on_message(server.send)

    try:
        with chromium() as browser:
            agent, agent_problems = open_page(browser)
            customer, problems = open_page(browser)
            customer.route_web_socket(re.compile(r".*/ws/widget/.*"), relay)
            log_in_agent(agent, daphne.url, "alice", PASSWORD)

            def certify_alice() -> None:
                device = Device.objects.get(agent=acme.agent)
                cert = protocol.certify(
                    org,
                    tenant=acme.tenant.widget_id,
                    person=acme.agent.pk,
                    name="Alice",
                    role="agent",
                    device=protocol.Member(
                        device.id,
                        "agent",
                        base64.b64decode(device.sign_public),
                        base64.b64decode(device.box_public),
                    ),
                    issued=now,
                    expires=now + 86_400,
                )
                Device.objects.filter(pk=device.pk).update(cert=cert.to_json())

            outside_playwright(certify_alice)
            expect(agent.locator("#device-state")).to_be_hidden(timeout=15_000)
            dialog = open_widget(customer, site.origin, "Acme")
            start_chat(dialog, "Carla", "", "Is my order on its way?")
            agent.locator("#offers li").get_by_role("button", name="Accept").click()
            log = dialog.get_by_role("log", name="Messages")
            expect(log).to_contain_text("(uncertified)")
            expect(agent.locator("#messages")).to_contain_text("Waiting for the customer's browser")
            conversation = outside_playwright(Conversation.objects.get, tenant=acme.tenant)
            epochs = outside_playwright(
                lambda: [
                    e.body
                    for e in Event.objects.filter(conversation=conversation, kind=Event.Kind.EPOCH)
                ]
            )
            assert [len(e["record"]["members"]) for e in epochs] == [1]
            assert all(
                w["recipient"] == conversation.customer_device_id
                for e in epochs
                for w in e["wraps"]
            )
            expect(dialog).not_to_contain_text("You are chatting with Alice")
            assert csp_violations(customer) == []
            assert problems.errors == [] and agent_problems.errors == []
    finally:
        site.stop()


def test_the_python_client_drops_a_leaver_for_good_and_takes_no_customer_from_a_notice() -> None:
    """The Python client plays the customer's side offline, fed events as a lying server would:
    Alice signs a leave; the server then replays her joined notice and announces a device of its
    own as a second customer. The next epoch leaves Alice out, and nobody else comes in."""
    tenant, conversation = "wid_acme", "6f1c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f"
    carla, alice, spy = (protocol.generate_device() for _ in range(3))
    view = ConversationClient(carla, tenant, conversation)
    view.set_customer_device(described(carla))
    seq = iter(range(1, 100))

    def event(kind: str, body: dict[str, Any], sender: str | None = None) -> None:
        view.apply({"seq": next(seq), "kind": kind, "sender": sender, "body": body})

    def epoch(members: list[protocol.Member]) -> bytes:
        assert view.state is not None
        latest = view.state.latest_epoch
        previous = None if latest is None else view.state.record_of(latest)
        record = protocol.make_epoch(carla, tenant, conversation, previous, members)
        key = protocol.new_epoch_key()
        wraps = [
            protocol.wrap_key(carla, m, tenant, conversation, record.epoch, key).to_json()
            for m in members
        ]
        event("epoch", {"record": record.to_json(), "wraps": wraps}, carla.device_id)
        return key

    joined = {"device": described(alice), "role": "agent", "name": "Alice"}
    epoch([carla.member("customer")])
    event("joined", joined)
    key = epoch([carla.member("customer"), alice.member("agent")])
    assert view.state is not None
    leave = protocol.encrypt_message(
        alice, tenant, conversation, view.state.record_of(1), key, 1,
        {"type": "leave", "sent_at": "2026-12-01T09:00:00Z"}, after=view.state.after,
    )  # fmt: skip
    event("message", leave.to_json(), alice.device_id)
    event("joined", joined)  # replayed while Alice is still in the latest epoch
    event("joined", {"device": described(spy), "role": "customer", "name": "Carla"})
    assert view.warnings() == ["uncertified"]
    assert [m.device_id for m in view.current_members()] == [carla.device_id]
    assert view.needs_epoch()
    epoch(view.current_members())
    event("joined", joined)  # asked back in after the epoch that dropped her: no pin, no entry
    assert [m.device_id for m in view.current_members()] == [carla.device_id]


def test_the_python_client_reads_staff_notes_as_staff_only_and_never_as_the_customer() -> None:
    """Alice's note, with the staff key she wrapped to Bob, fed to Carla's and Bob's Python
    clients as a lying server would: Carla's client witnesses the note and shows nothing, refuses
    the staff key relabelled to her and the note with its scope dropped; Bob's reads the note and
    refuses a staff key Carla's device made."""
    tenant, conversation = "wid_acme", "6f1c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f"
    carla, alice, bob = (protocol.generate_device() for _ in range(3))
    views = {
        name: ConversationClient(keys, tenant, conversation)
        for name, keys in (("carla", carla), ("bob", bob))
    }
    for view in views.values():
        view.set_customer_device(described(carla))
    members = [carla.member("customer"), alice.member("agent"), bob.member("agent")]
    record = protocol.make_epoch(carla, tenant, conversation, None, [carla.member("customer")])
    key = protocol.new_epoch_key()
    e0 = {
        "record": record.to_json(),
        "wraps": [
            protocol.wrap_key(
                carla, carla.member("customer"), tenant, conversation, 0, key
            ).to_json()
        ],
    }
    e1_record = protocol.make_epoch(carla, tenant, conversation, record, members)
    e1_key = protocol.new_epoch_key()
    e1 = {
        "record": e1_record.to_json(),
        "wraps": [
            protocol.wrap_key(carla, m, tenant, conversation, 1, e1_key).to_json() for m in members
        ],
    }
    staff_key = protocol.new_epoch_key()
    to_bob = protocol.wrap_key(
        alice, bob.member("agent"), tenant, conversation, 1, staff_key, staff=True
    )
    after = protocol.head_after(tenant, conversation, [record, e1_record])
    note = protocol.encrypt_message(
        alice, tenant, conversation, e1_record, staff_key, 1,
        {"type": "note", "body": "Refund approved.", "sent_at": "2026-12-01T09:00:00Z"},
        after=after, staff=True,
    )  # fmt: skip
    forged = protocol.wrap_key(
        carla, bob.member("agent"), tenant, conversation, 1, protocol.new_epoch_key(), staff=True
    )
    events: list[tuple[str, dict[str, Any], str | None, tuple[str, ...]]] = [
        ("epoch", e0, carla.device_id, ("carla", "bob")),
        ("epoch", e1, carla.device_id, ("carla", "bob")),
        ("share", {"wraps": [forged.to_json()]}, carla.device_id, ("carla", "bob")),
        ("share", {"wraps": [to_bob.to_json()]}, alice.device_id, ("bob",)),
        (
            "share",
            {"wraps": [{**to_bob.to_json(), "recipient": carla.device_id}]},
            alice.device_id,
            ("carla",),
        ),
        ("message", note.to_json(), alice.device_id, ("carla", "bob")),
    ]
    counters = {name: iter(range(1, 100)) for name in views}
    for kind, body, sender, to in events:
        for name in to:
            views[name].apply(
                {"seq": next(counters[name]), "kind": kind, "sender": sender, "body": body}
            )
    assert views["bob"].notes() == ["Refund approved."]
    assert views["bob"].warnings() == ["bad_wrap"]  # the staff key Carla's device made
    assert views["carla"].notes() == [] and views["carla"].messages() == []
    assert views["carla"].warnings() == ["bad_wrap"]  # Alice's wrap, relabelled to her
    assert views["carla"].state is not None and views["carla"].state.staff_key_of(1) is None
    unscoped = {k: v for k, v in note.to_json().items() if k != "scope"}
    views["carla"].apply(
        {
            "seq": next(counters["carla"]),
            "kind": "message",
            "sender": alice.device_id,
            "body": unscoped,
        }
    )
    assert views["carla"].warnings() == ["bad_wrap", "bad_signature"]


def test_the_python_client_hands_its_staff_key_to_no_device_the_customer_signed_in() -> None:
    """A curious customer, with code of its own and no help from the server, signs an epoch
    that adds a second device of its own as an agent. The Python client, which pins no
    organisation key, wraps the staff key of its note to itself alone: the customer's device
    gets no key to the note (found by a review that played this)."""
    tenant, conversation = "wid_acme", "6f1c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f"
    carla, alice, fake = (protocol.generate_device() for _ in range(3))
    e0 = protocol.make_epoch(carla, tenant, conversation, None, [carla.member("customer")])
    members = [carla.member("customer"), alice.member("agent"), fake.member("agent")]
    e1 = protocol.make_epoch(carla, tenant, conversation, e0, members)
    key = protocol.new_epoch_key()
    wraps = [protocol.wrap_key(carla, m, tenant, conversation, 1, key).to_json() for m in members]
    bodies = ({"record": e0.to_json(), "wraps": []}, {"record": e1.to_json(), "wraps": wraps})
    events: list[dict[str, Any]] = [
        {"seq": seq, "kind": "epoch", "sender": carla.device_id, "body": body}
        for seq, body in enumerate(bodies, start=1)
    ]
    view = ConversationClient(alice, tenant, conversation)
    view.set_customer_device(described(carla))
    for event in events:
        view.apply(event)
    sent: list[dict[str, Any]] = []

    async def request(frame: dict[str, Any], **_: Any) -> dict[str, Any]:
        # A stand-in for the server's socket: it stores what is sent as the server would.
        sent.append(frame)
        seq = len(events) + 1
        if frame["type"] == "sync":
            return {"events": [e for e in events if e["seq"] > frame["after"]], "more": False}
        kind, body = (
            ("share", {"wraps": frame["wraps"]})
            if frame["type"] == "share"
            else ("message", frame["envelope"])
        )
        events.append({"seq": seq, "kind": kind, "sender": alice.device_id, "body": body})
        return {"seq": seq}

    view.request = request  # type: ignore[method-assign,assignment]
    asyncio.run(view.send_note("Refund approved; she is a VIP."))
    share = next(frame for frame in sent if frame["type"] == "share")
    assert [wrap["recipient"] for wrap in share["wraps"]] == [alice.device_id]
    asyncio.run(view.sync())
    assert view.notes() == ["Refund approved; she is a VIP."]
