"""The waiting customer's place and estimated wait (chat/waiting.py): Carla and Dan wait in Acme's
Support, where Alice and Bob take chats and Sam supervises. The estimate is Support's recent
median wait, times the place, over its available agents; Billing's figures and those of Globex,
the outsider, whose Otto answers at once, never enter it. A change of the queue is worked out
once for every waiting socket, not once a socket.
"""

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.models import Agent, Team
from chat import waiting
from chat.actions import lifecycle, presence
from chat.models import Conversation
from sealdesk_client import frames
from tests.factories import Staff, make_agent, start, start_with_keys
from tests.sockets import open_widget_socket


def taken_earlier(staff: Staff, waited: float, ago: timedelta, team: Team | None = None) -> None:
    """Record a chat of STAFF's team that waited WAITED seconds and was taken AGO, now closed."""
    conversation = start(staff, team)
    accepted = timezone.now() - ago
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.CLOSED,
        created_at=accepted - timedelta(seconds=waited),
        accepted_at=accepted,
        closed_at=accepted,
    )


class Support:
    """Acme's Support with Alice and Bob available and Sam the supervisor available too; its
    recent waits 60, 120 and 600 seconds (median 120); older, other teams' and messages' waits
    besides."""

    def __init__(self, acme: Staff, globex: Staff) -> None:
        self.alice = acme.agent
        self.bob = make_agent(acme.tenant, "bob", teams=(acme.team,))
        for agent in (self.alice, self.bob, acme.supervisor):
            presence.do_set_presence(agent, Agent.Presence.AVAILABLE)
        for waited in (60, 120, 600):
            taken_earlier(acme, waited, timedelta(minutes=10))
        taken_earlier(acme, 10_000, timedelta(hours=2))  # not recent
        billing = Team.objects.create(tenant=acme.tenant, name="Billing")
        taken_earlier(acme, 5, timedelta(minutes=5), team=billing)
        taken_earlier(globex, 1, timedelta(minutes=5))
        left = start(acme)  # a message left, picked up the next morning: not a queue's wait
        Conversation.objects.filter(pk=left.pk).update(
            state=Conversation.State.CLOSED,
            created_at=timezone.now() - timedelta(hours=14),
            message_left_at=timezone.now() - timedelta(hours=14),
            accepted_at=timezone.now() - timedelta(minutes=1),
        )
        _, self.carla, self.carla_token = start_with_keys(acme)
        _, self.dan, self.dan_token = start_with_keys(acme)


@pytest.mark.django_db
def test_the_estimate_is_the_recent_median_times_the_place_over_the_available_agents(
    acme: Staff, globex: Staff
) -> None:
    support = Support(acme, globex)
    assert waiting.recent_wait(acme.team.pk) == 120
    # Two agents available (Sam supervises: he is not counted): 60 s a place.
    assert waiting.place_of(support.carla) == (1, 60)
    assert waiting.place_of(support.dan) == (2, 120)
    presence.do_set_presence(support.bob, Agent.Presence.AWAY)
    assert waiting.place_of(support.dan) == (2, 240)
    # Globex's queue has only its own figure: Otto took its chat after a second.
    presence.do_set_presence(globex.agent, Agent.Presence.AVAILABLE)
    assert waiting.place_of(start(globex)) == (1, 1)


@pytest.mark.django_db
def test_there_is_no_estimate_without_a_recent_figure_or_an_available_agent(
    acme: Staff, globex: Staff
) -> None:
    presence.do_set_presence(acme.agent, Agent.Presence.AVAILABLE)
    taken_earlier(acme, 300, timedelta(hours=2))
    taken_earlier(globex, 30, timedelta(minutes=1))  # the outsider's figure does not count
    carla = start(acme)
    assert waiting.place_of(carla) == (1, None)
    taken_earlier(acme, 300, timedelta(minutes=1))
    assert waiting.place_of(carla) == (1, 300)
    presence.do_set_presence(acme.agent, Agent.Presence.AWAY)
    assert waiting.place_of(carla) == (1, None)
    lifecycle.do_close_conversation(carla, carla.customer_device)
    carla.refresh_from_db()
    assert waiting.place_of(carla) == (0, None)


@pytest.mark.django_db
def test_only_the_latest_twenty_recent_chats_count(acme: Staff) -> None:
    for _ in range(waiting.RECENT_CHATS):
        taken_earlier(acme, 30, timedelta(minutes=5))
    for _ in range(5):
        taken_earlier(acme, 900, timedelta(minutes=30))  # earlier in the hour: left out
    assert waiting.recent_wait(acme.team.pk) == 30


@pytest.mark.django_db(transaction=True)
async def test_waiting_customers_hear_place_and_wait_worked_out_once_per_change(
    acme: Staff, globex: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    support = await database_sync_to_async(Support)(acme, globex)
    sockets = []
    for conversation, token in (
        (support.carla, support.carla_token),
        (support.dan, support.dan_token),
    ):
        socket, connected, _ = await open_widget_socket(
            acme.tenant.widget_id, "https://www.acme.example"
        )
        assert connected
        auth = {"type": frames.AUTH, "conversation": str(conversation.pk), "token": token}
        await socket.send_to(text_data=json.dumps(auth))
        hello = await socket.receive_frame()
        sockets.append((socket, hello))
    assert [(h["queue_position"], h["wait_seconds"]) for _, h in sockets] == [(1, 60), (2, 120)]

    worked_out = []
    original = waiting.wait_per_place

    def counted(team_id: int) -> float | None:
        worked_out.append(team_id)
        return original(team_id)

    monkeypatch.setattr(waiting, "wait_per_place", counted)
    # Carla gives up: Dan moves up, once worked out for both waiting sockets.
    await database_sync_to_async(lifecycle.do_close_conversation)(
        support.carla, support.carla.customer_device
    )
    carla, dan = (socket for socket, _ in sockets)
    moved = await dan.receive_frame()
    assert (moved["type"], moved["position"], moved["wait_seconds"]) == (frames.QUEUE, 1, 60)
    assert worked_out == [acme.team.pk]
    # Bob steps away: one agent left, Dan's wait doubles.
    await database_sync_to_async(presence.do_set_presence)(support.bob, Agent.Presence.AWAY)
    moved = await dan.receive_frame()
    assert (moved["position"], moved["wait_seconds"]) == (1, 120)
    # A customer of Globex starting to wait tells Acme's waiting customers nothing.
    await database_sync_to_async(start_with_keys)(globex)
    assert await dan.receive_nothing(timeout=0.3)
    for socket in (carla, dan):
        await socket.disconnect()
