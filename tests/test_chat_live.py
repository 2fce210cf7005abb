"""A customer and an agent, both Python clients, chat through a real Daphne: nothing lost.

Includes a dropped connection and a restarted server mid-conversation, and ends with a look
into the database for any plaintext.
"""

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Event
from sealdesk_client import protocol
from sealdesk_client.client import AgentClient, Customer, now_iso
from tests.factories import Staff
from tests.live import DaphneServer, stored_text

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://www.acme.example"
PRECHAT = {
    "name": "Carla Customer",
    "email": "carla@example.org",
    "question": "My parcel 4711 never arrived",
}


@pytest.fixture
async def carla(acme: Staff, daphne: DaphneServer) -> AsyncIterator[Customer]:
    client = Customer(daphne.url, acme.tenant.widget_id, ORIGIN)
    yield client
    await client.close()


def texts(messages: list[dict[str, str]]) -> list[str]:
    return [m.get("body") or m.get("question", "") for m in messages]


async def test_customer_and_agent_chat_both_ways_end_to_end(
    acme: Staff, alice: AgentClient, carla: Customer
) -> None:
    await carla.start(acme.team.pk, PRECHAT)
    chat = await alice.accept_next_offer()
    await chat.wait_until(lambda: len(chat.messages()) == 1)
    assert chat.messages()[0]["type"] == "prechat"
    assert chat.messages()[0]["question"] == PRECHAT["question"]

    await chat.send_text("Hello Carla, let me look that up.")
    await carla.wait_until(lambda: "Hello Carla, let me look that up." in texts(carla.messages()))
    await carla.send_text("Thanks! It was sent on Monday.")
    await chat.wait_until(lambda: "Thanks! It was sent on Monday." in texts(chat.messages()))

    assert chat.warnings() == []
    assert carla.warnings() == []
    conversation = await Conversation.objects.aget(pk=carla.conversation)
    assert conversation.state == Conversation.State.ACTIVE
    assert await database_sync_to_async(conversation.current_agents)() == [acme.agent]

    stored = await database_sync_to_async(stored_text)()
    for secret in (
        *PRECHAT.values(),
        "Hello Carla",
        "let me look that up",
        "It was sent on Monday",
    ):
        assert secret not in stored, secret


async def test_nothing_is_lost_or_doubled_across_a_dropped_socket_and_a_server_restart(
    acme: Staff, daphne: DaphneServer, alice: AgentClient, carla: Customer
) -> None:
    await carla.start(acme.team.pk, PRECHAT)
    chat = await alice.accept_next_offer()
    for n in range(3):
        await carla.send_text(f"before drop {n}")
    await chat.wait_until(lambda: len(chat.messages()) == 4)

    # Carla's socket drops; Alice writes meanwhile; Carla reconnects and catches up.
    await carla.disconnect()
    for n in range(3):
        await chat.send_text(f"while Carla was away {n}")
    assert await carla.send_text("typed while offline") == 0
    await carla.connect()
    await chat.wait_until(lambda: "typed while offline" in texts(chat.messages()))

    # The server restarts; both reconnect and go on.
    await alice.disconnect()
    await carla.disconnect()
    await asyncio.to_thread(daphne.stop)
    await asyncio.to_thread(daphne.start)
    await alice.connect()
    await carla.connect()
    chat = alice.conversations[carla.conversation]
    await carla.send_text("after restart")
    await chat.send_text("welcome back")
    await chat.wait_until(lambda: "after restart" in texts(chat.messages()))
    await carla.wait_until(lambda: "welcome back" in texts(carla.messages()))

    transcript = [
        PRECHAT["question"],
        *[f"before drop {n}" for n in range(3)],
        *[f"while Carla was away {n}" for n in range(3)],
        "typed while offline",
        "after restart",
        "welcome back",
    ]
    await carla.wait_until(lambda: len(carla.messages()) == len(transcript))
    await chat.wait_until(lambda: len(chat.messages()) == len(transcript))
    assert sorted(texts(carla.messages())) == sorted(transcript)
    assert texts(chat.messages()) == texts(carla.messages())  # the same order on both sides
    assert chat.warnings() == []
    assert carla.warnings() == []
    count = await Event.objects.filter(
        conversation_id=carla.conversation, kind=Event.Kind.MESSAGE
    ).acount()
    assert count == len(transcript)


async def test_a_send_waiting_when_the_server_dies_ends_at_once_and_its_message_goes_once_later(
    acme: Staff, daphne: DaphneServer, alice: AgentClient, carla: Customer
) -> None:
    """Carla's send is on its way when the server process dies: her client does not wait out its
    ten-second timeout for an answer that cannot come, keeps the message, and sends it once the
    server is back."""
    await carla.start(acme.team.pk, PRECHAT)
    chat = await alice.accept_next_offer()
    os.kill(daphne.pid, signal.SIGSTOP)  # the frame arrives, but no answer goes out
    sending = asyncio.create_task(carla.send_text("sent as the server died"))
    await asyncio.sleep(0.3)
    assert not sending.done()
    began = time.monotonic()
    await asyncio.to_thread(daphne.kill)
    async with asyncio.timeout(5):
        assert await sending == 0  # not acknowledged: kept in the outbox
    assert time.monotonic() - began < 5
    assert carla.outbox
    await asyncio.to_thread(daphne.start)
    await alice.connect()
    await carla.connect()
    chat = alice.conversations[carla.conversation]
    await chat.wait_until(lambda: "sent as the server died" in texts(chat.messages()))
    await carla.wait_until(lambda: not carla.outbox)
    assert texts(chat.messages()).count("sent as the server died") == 1
    assert chat.warnings() == []


async def test_a_message_written_as_the_socket_comes_back_waits_for_the_outbox(
    acme: Staff, alice: AgentClient, carla: Customer
) -> None:
    """Carla writes while her socket is down, then writes again just as it comes back: the new
    message waits until the outbox is resent, so it does not overtake the older one (which the
    server would refuse as seq_out_of_order) and both arrive once, in order."""
    await carla.start(acme.team.pk, PRECHAT)
    chat = await alice.accept_next_offer()
    assert carla.socket is not None
    await carla.socket.close()
    assert await carla.send_text("written while offline") == 0
    resend = carla.resend_outbox
    later: list[asyncio.Task[int]] = []

    async def resend_after_a_new_message_was_written() -> None:
        later.append(asyncio.create_task(carla.send_text("written as it came back")))
        await asyncio.sleep(0.3)  # without the gate the new message goes out here, first
        await resend()

    carla.resend_outbox = resend_after_a_new_message_was_written  # type: ignore[method-assign]
    await carla.connect()
    async with asyncio.timeout(10):
        assert await later[0] > 0
    wanted = ["written while offline", "written as it came back"]
    await chat.wait_until(lambda: all(text in texts(chat.messages()) for text in wanted))
    shown = [text for text in texts(chat.messages()) if text in wanted]
    assert shown == wanted
    # Her own copy acknowledges it, and may come back after Alice has it (on another process).
    await carla.wait_until(lambda: not carla.outbox)
    assert chat.warnings() == []


async def test_a_message_sent_again_after_a_lost_acknowledgement_is_stored_once(
    acme: Staff, alice: AgentClient, carla: Customer
) -> None:
    await carla.start(acme.team.pk, PRECHAT)
    chat = await alice.accept_next_offer()
    assert carla.state is not None
    epoch = carla.state.latest_epoch
    assert epoch is not None
    envelope = protocol.encrypt_message(
        carla.keys,
        carla.tenant,
        carla.conversation,
        carla.state.record_of(epoch),
        carla.state.key_of(epoch) or b"",
        carla.state.next_seq(),
        {"type": "text", "body": "only once", "sent_at": now_iso()},
        after=carla.state.after,
    )
    frame = {"type": "send", "conversation": carla.conversation, "envelope": envelope.to_json()}
    first = await carla.request(frame)
    again = await carla.request(frame)
    assert first["seq"] == again["seq"]
    await chat.wait_until(lambda: "only once" in texts(chat.messages()))
    assert texts(chat.messages()).count("only once") == 1
    stored = await Event.objects.filter(
        conversation_id=carla.conversation, kind=Event.Kind.MESSAGE, sender_seq=envelope.seq
    ).acount()
    assert stored == 1
