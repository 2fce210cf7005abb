"""The supervisor's live board (issue 12, part 3): per queue, how many wait and since when the
longest has; per agent of the supervisor's teams, the state and the chats in hand against the
maximum. Sam (Acme's supervisor of Support) sees Ada and Alice, not Bob of Sales nor anyone of
Globex's; the dashboard refreshes the board every few seconds."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.models import Agent, Team
from chat.actions import presence
from chat.actions.supervision import board
from tests.factories import PASSWORD, Staff, accept, available, make_agent, start

pytestmark = pytest.mark.django_db


def agents_on(board_: dict[str, object]) -> dict[str, tuple[str, int, int]]:
    rows = board_["agents"]
    assert isinstance(rows, list)
    return {
        row["display_name"]: (row["presence"], row["chats"], row["max_concurrent_chats"])
        for row in rows
    }


def test_sams_board_counts_the_queue_and_each_agents_chats_against_the_maximum(
    acme: Staff, globex: Staff
) -> None:
    sales = Team.objects.create(tenant=acme.tenant, name="Sales")
    make_agent(acme.tenant, "bob", teams=(sales,))
    available(acme.agent, globex.agent)
    taken = start(acme)
    accept(acme, taken)
    waiting = start(acme)
    start(globex)

    shown = board(acme.supervisor)
    (queue,) = shown["queues"]
    assert (queue["name"], queue["waiting"], queue["active"]) == ("Support", 1, 1)
    assert queue["oldest"] == waiting.created_at.isoformat()
    # Ada (a tenant admin in Support) takes chats too; Sam, a supervisor, is not routed any.
    assert agents_on(shown) == {"Ada": ("offline", 0, 3), "Alice": ("available", 1, 3)}

    presence.do_set_presence(acme.agent, Agent.Presence.AWAY)
    Agent.objects.filter(pk=acme.agent.pk).update(max_concurrent_chats=5)
    assert agents_on(board(acme.supervisor))["Alice"] == ("away", 1, 5)


def test_the_board_costs_the_same_few_queries_however_many_agents(acme: Staff) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            board(acme.supervisor)
        return len(captured)

    before = queries()
    for n in range(5):
        make_agent(acme.tenant, f"agent{n}", teams=(acme.team,))
    assert queries() == before


def test_the_board_answers_sam_and_not_alice(acme: Staff) -> None:
    sam = Client()
    assert sam.login(username="sam", password=PASSWORD)
    answer = sam.get(reverse("board"))
    assert answer.status_code == 200
    assert [row["display_name"] for row in answer.json()["agents"]] == ["Ada", "Alice"]
    alice = Client()
    assert alice.login(username="alice", password=PASSWORD)
    assert alice.get(reverse("board")).status_code == 403
