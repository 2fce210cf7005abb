"""The agent's history list (GET /dashboard/history/): metadata of the conversations each person
took part in and no longer works on, newest first, with the devices of theirs that were in each;
supervisors also get their teams' closed chats; an outsider from another tenant gets nothing of
Acme's. Reading and searching happen in the browser (tests/test_history_browser.py)."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from chat.actions import lifecycle, membership
from chat.models import Conversation
from tests.factories import (
    Staff,
    accept,
    available,
    device_for,
    make_agent,
    sign_in_with_second_factor,
    start,
)

pytestmark = pytest.mark.django_db


def history_of(client: Client, agent: Agent, offset: str = "0") -> dict[str, Any]:
    client.force_login(agent.user)
    response = client.get(reverse("history"), {"offset": offset}, headers={"accept": "json"})
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [c["id"] for c in body["conversations"]]


def test_alice_lists_her_closed_and_left_chats_not_those_she_works_on(
    client: Client, acme: Staff, globex: Staff
) -> None:
    available(acme.agent)
    closed = start(acme)
    device = accept(acme, closed)
    lifecycle.do_close_conversation(closed, device, "resolved")
    left = start(acme)
    accept(acme, left)
    left.refresh_from_db()
    membership.do_leave(left, device, timezone.now(), last=True)
    working = start(acme)
    accept(acme, working)
    waiting = start(acme)  # nobody took it: nobody's history

    body = history_of(client, acme.agent)
    assert ids(body) == [str(left.pk), str(closed.pk)]  # newest first
    assert body["more"] is False and body["offset"] == 0
    first = body["conversations"][1]
    assert first["state"] == "closed" and first["disposition"] == "resolved"
    assert first["disposition_label"] == "Resolved"
    assert first["closed_at"] is not None and first["accepted_at"] is not None
    assert first["my_devices"] == [device.pk]
    assert [m["agent"]["display_name"] for m in first["members"] if m["agent"]] == ["Alice"]
    # Metadata only: no event, so no ciphertext either.
    assert "events" not in first and "body" not in str(first)
    assert str(working.pk) not in ids(body) and str(waiting.pk) not in ids(body)

    # Bob, her colleague, took part in none of them; Otto, of Globex, sees nothing of Acme's.
    bob = make_agent(acme.tenant, "bob", teams=(acme.team,))
    assert ids(history_of(client, bob)) == []
    assert ids(history_of(client, globex.agent)) == []


def test_a_supervisor_also_lists_the_closed_chats_of_its_teams_it_never_read(
    client: Client, acme: Staff, globex: Staff
) -> None:
    available(acme.agent)
    conversation = start(acme)
    device = accept(acme, conversation)
    lifecycle.do_close_conversation(conversation, device, "follow_up")
    active = start(acme)
    accept(acme, active)

    body = history_of(client, acme.supervisor)
    assert ids(body) == [str(conversation.pk)]
    assert body["conversations"][0]["my_devices"] == []  # never encrypted to Sam
    # Olga supervises Globex's Support team, not Acme's.
    assert ids(history_of(client, globex.supervisor)) == []


def test_pages_of_fifty_and_a_bad_offset_is_refused_with_a_code(
    client: Client, acme: Staff
) -> None:
    device = device_for(acme.agent)
    available(acme.agent)
    started = timezone.now() - timedelta(days=1)
    for n in range(51):
        conversation = start(acme)
        Conversation.objects.filter(pk=conversation.pk).update(
            created_at=started + timedelta(minutes=n)
        )
        accept(acme, conversation)
        lifecycle.do_close_conversation(conversation, device, "resolved")
    first = history_of(client, acme.agent)
    assert len(first["conversations"]) == 50 and first["more"] is True
    rest = history_of(client, acme.agent, offset="50")
    assert len(rest["conversations"]) == 1 and rest["more"] is False
    assert set(ids(first)).isdisjoint(ids(rest))

    for bad in ("-1", "two", "1.5"):
        response = client.get(reverse("history"), {"offset": bad})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_page"


def test_only_agents_have_a_history(client: Client, acme: Staff, root: Any) -> None:
    response = client.get(reverse("history"))
    assert response.status_code == 302  # to the login page
    sign_in_with_second_factor(client, root)  # a platform admin is no agent
    assert client.get(reverse("history")).status_code == 403
