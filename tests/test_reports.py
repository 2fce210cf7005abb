"""Reports (issue 12, part 3): a scripted day of Acme's chats (tests/reports_day.py) gives the
figures worked out by hand, for Ada (Acme's tenant admin: every team) and Sam (supervisor: his
Support team only), never counting Globex's chat; Alice (an agent) gets none. The CSVs carry
the same, with cells no spreadsheet runs; the admin lists conversations read-only and scoped;
the customer's rating frame refuses what it should."""

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from agents.access import report_teams
from agents.models import Agent, Team
from chat import reports
from chat.actions import lifecycle
from chat.models import Conversation
from sealdesk_client import frames
from sealdesk_client.client import AgentClient, Customer, ServerError
from tests.factories import (
    PASSWORD,
    Staff,
    accept,
    available,
    sign_in_with_second_factor,
    start_with_keys,
)
from tests.live import DaphneServer
from tests.reports_day import (
    DAY_AGENTS,
    DAY_DISPOSITIONS,
    DAY_SCORES,
    DAY_TEAMS,
    DAY_TOTALS,
    Day,
    script_day,
)
from tests.sockets import Socket, open_widget_socket

PAGE = "https://www.acme.example"


@pytest.fixture
def day(acme: Staff, globex: Staff) -> Day:
    return script_day(acme, globex)


def report_of(agent: Agent, day: Day) -> dict[str, Any]:
    period = reports.Period(day.day, day.day)
    return reports.figures(reports.conversations_in(report_teams(agent), period))


def logged_in(agent: Agent) -> Client:
    client = Client()
    assert client.login(username=agent.user.get_username(), password=PASSWORD)
    return client


def by_name(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row.pop(key): row for row in ({**r} for r in rows)}


def read_csv(response: Any) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# The figures.


@pytest.mark.django_db
def test_adas_report_of_the_day_has_every_acme_team_and_no_globex_chat(
    acme: Staff, day: Day
) -> None:
    report = report_of(acme.admin, day)
    assert report["totals"] == DAY_TOTALS
    teams = by_name(report["teams"], "team__name")
    for team in teams.values():
        del team["team_id"]
    assert teams == DAY_TEAMS
    agents = by_name(report["agents"], "agent__display_name")
    for agent in agents.values():
        del agent["agent_id"]
    assert agents == DAY_AGENTS
    assert {row["disposition"]: row["count"] for row in report["dispositions"]} == (
        DAY_DISPOSITIONS
    )
    assert {row["score"]: row["count"] for row in report["satisfaction"]} == DAY_SCORES


@pytest.mark.django_db
def test_sam_a_supervisor_of_support_sees_support_only(acme: Staff, day: Day) -> None:
    assert list(report_teams(acme.supervisor)) == [acme.team]
    report = report_of(acme.supervisor, day)
    support = DAY_TEAMS["Support"]
    assert report["totals"]["conversations"] == support["conversations"]
    assert report["totals"]["waiting"] == support["waiting"]
    assert [team["team__name"] for team in report["teams"]] == ["Support"]
    assert [agent["agent__display_name"] for agent in report["agents"]] == ["Alice"]
    assert {row["score"]: row["count"] for row in report["satisfaction"]} == {
        1: 0,
        2: 0,
        3: 1,
        4: 0,
        5: 1,
    }


@pytest.mark.django_db
def test_oscar_globexs_admin_sees_globex_only(globex: Staff, day: Day) -> None:
    report = report_of(globex.admin, day)
    assert report["totals"]["conversations"] == 1
    assert report["totals"]["satisfaction"] == 1.0
    assert [agent["agent__display_name"] for agent in report["agents"]] == ["Otto"]


@pytest.mark.django_db
def test_a_report_of_no_conversations_has_no_times_and_every_score_at_zero(acme: Staff) -> None:
    report = reports.figures(Conversation.objects.none())
    assert report["totals"]["conversations"] == 0
    assert report["totals"]["waiting"] == {"count": 0, "median": None, "p90": None}
    assert report["teams"] == report["agents"] == report["dispositions"] == []
    assert [row["count"] for row in report["satisfaction"]] == [0, 0, 0, 0, 0]


def test_percentiles_interpolate_between_the_two_nearest_values() -> None:
    assert reports.percentile([], 50) is None
    assert reports.percentile([7.0], 90) == 7.0
    assert reports.percentile([30.0, 60.0, 120.0, 180.0], 50) == 90.0
    assert reports.percentile([30.0, 60.0, 120.0, 180.0], 90) == pytest.approx(162.0)
    assert reports.percentile([1.0, 2.0, 3.0], 100) == 3.0


# The page.


@pytest.mark.django_db
def test_the_reports_page_shows_ada_the_last_seven_days_by_default(acme: Staff, day: Day) -> None:
    answer = logged_in(acme.admin).get(reverse("reports"))
    assert answer.status_code == 200
    report = answer.context["report"]
    # The chat eight days before the day is outside the last seven days.
    assert report["totals"] == DAY_TOTALS
    page = answer.content.decode()
    assert '<dd data-figure="conversations">6</dd>' in page
    assert '<dd data-figure="waiting-median">1 min 30 s</dd>' in page
    assert '<dd data-figure="handling-p90">17 min</dd>' in page
    assert "vendor/chart.js/chart.umd.min.js" in page
    charts = json.loads(page.split('id="report-charts" type="application/json">')[1].split("<")[0])
    assert charts["teams"] == {
        "labels": ["Sales", "Support"],
        "taken": [2, 2],
        "unanswered": [0, 1],
        "other": [0, 1],
    }
    assert charts["satisfaction"]["counts"] == [0, 0, 1, 1, 1]
    # The same CSP as every page: no inline script runs (the chart data is JSON, not script).
    assert "script-src 'self'" in answer["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_page_filters_by_team_and_period(acme: Staff, day: Day) -> None:
    client = logged_in(acme.admin)
    first = day.day.isoformat()
    answer = client.get(
        reverse("reports"), {"start": first, "end": first, "team": str(day.sales.pk)}
    )
    assert answer.context["report"]["totals"]["conversations"] == 2
    earlier = (day.day - timedelta(days=30)).isoformat()
    wide = client.get(reverse("reports"), {"start": "2000-01-01", "end": first})
    assert wide.status_code == 400  # over a year
    assert "at most 366 days" in wide.content.decode()
    backwards = client.get(reverse("reports"), {"start": first, "end": "2000-01-01"})
    assert backwards.status_code == 400
    month = client.get(reverse("reports"), {"start": earlier, "end": first})
    assert month.context["report"]["totals"]["conversations"] == 7  # with the one 8 days before


@pytest.mark.django_db
def test_sam_cannot_ask_for_another_team_and_alice_gets_no_reports(acme: Staff, day: Day) -> None:
    sam = logged_in(acme.supervisor)
    assert sam.get(reverse("reports")).context["report"]["totals"]["conversations"] == 4
    assert sam.get(reverse("reports"), {"team": day.sales.pk}).status_code == 400
    assert sam.get(reverse("reports_conversations_csv"), {"team": day.sales.pk}).status_code == 400
    alice = logged_in(acme.agent)
    for name in ("reports", "reports_conversations_csv", "reports_figures_csv"):
        assert alice.get(reverse(name)).status_code == 403
    assert 'href="/dashboard/reports/"' not in alice.get(reverse("dashboard")).content.decode()
    assert 'href="/dashboard/reports/"' in sam.get(reverse("dashboard")).content.decode()
    assert Client().get(reverse("reports")).status_code == 302  # to the login page


@pytest.mark.django_db
def test_an_outsider_team_is_no_filter_for_ada(acme: Staff, globex: Staff, day: Day) -> None:
    answer = logged_in(acme.admin).get(reverse("reports"), {"team": globex.team.pk})
    assert answer.status_code == 400
    assert "report" not in answer.context


# CSV.


@pytest.mark.django_db
def test_the_conversations_csv_lists_the_days_metadata_and_nothing_else(
    acme: Staff, day: Day
) -> None:
    answer = logged_in(acme.admin).get(reverse("reports_conversations_csv"))
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"].startswith('attachment; filename="sealdesk-conversations-')
    rows = read_csv(answer)
    assert tuple(rows[0]) == reports.CONVERSATION_COLUMNS
    made = day.conversations
    assert [row[0] for row in rows[1:]] == [
        str(made[name].id) for name in ("c1", "c2", "c3", "c4", "c5", "c6")
    ]
    c1, c2, c3, c4, _, c6 = rows[1:]
    assert c1[1:3] == ["Support", "closed"]
    assert c1[6:] == ["60", "600", "Alice", "resolved", "5"]
    assert c2[6:] == ["180", "1200", "Alice", "follow_up", "3"]  # declined, then taken: once
    assert c3[6:] == ["", "", "", "", ""]
    assert c4[1] == "Sales" and c4[6:] == ["30", "300", "Bob", "resolved", "4"]
    assert c6[2] == "queued"
    assert c1[3] == f"{day.day.isoformat()}T09:00:00+00:00"


@pytest.mark.django_db
def test_the_figures_csv_has_the_pages_figures(acme: Staff, day: Day) -> None:
    rows = read_csv(logged_in(acme.admin).get(reverse("reports_figures_csv")))
    assert rows[0] == ["section", "name", "figure", "value"]
    found = {tuple(row[:3]): row[3] for row in rows[1:]}
    assert found[("totals", "", "conversations")] == "6"
    assert found[("totals", "", "waiting p90 (s)")] == "162.0"
    assert found[("team", "Sales", "handling median (s)")] == "210.0"
    assert found[("agent", "Alice", "missed")] == "1"
    assert found[("agent", "Alice", "declined")] == "1"
    assert found[("disposition", "spam", "Spam or abuse")] == "1"
    assert found[("satisfaction", "5", "conversations")] == "1"
    assert not any("Globex" in cell or "Otto" in cell for row in rows for cell in row)


@pytest.mark.django_db
def test_csv_cells_that_a_spreadsheet_would_run_start_with_a_quote(acme: Staff, day: Day) -> None:
    Team.objects.filter(pk=day.sales.pk).update(name='=HYPERLINK("http://x.example","y")')
    Agent.objects.filter(pk=day.bob.pk).update(display_name="@SUM(1+1)")
    Agent.objects.filter(pk=acme.agent.pk).update(display_name="-2+3")
    client = logged_in(acme.admin)
    conversations = read_csv(client.get(reverse("reports_conversations_csv")))
    figures = read_csv(client.get(reverse("reports_figures_csv")))
    cells = [cell for row in conversations + figures for cell in row]
    assert '\'=HYPERLINK("http://x.example","y")' in cells
    assert "'@SUM(1+1)" in cells and "'-2+3" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert reports.safe_cell("+1") == "'+1" and reports.safe_cell("\tx") == "'\tx"
    assert reports.safe_cell("Sales") == "Sales" and reports.safe_cell(5) == 5


# The admin's conversation list.


@pytest.mark.django_db
def test_adas_admin_lists_acmes_conversations_read_only_and_filters_them(
    acme: Staff, globex: Staff, day: Day
) -> None:
    acme.admin.user.is_staff = True
    acme.admin.user.save()
    client = logged_in(acme.admin)
    url = reverse("admin:chat_conversation_changelist")
    listed = client.get(url)
    assert listed.status_code == 200
    shown = {c.pk for c in listed.context["cl"].result_list}
    assert shown == {c.pk for name, c in day.conversations.items() if name != "globex"}
    assert client.get(url, {"team__id__exact": day.sales.pk}).context["cl"].result_count == 2
    assert client.get(url, {"agent": day.bob.pk}).context["cl"].result_count == 2
    assert client.get(url, {"agent": acme.agent.pk}).context["cl"].result_count == 3
    assert client.get(url, {"satisfaction": 5}).context["cl"].result_count == 1
    assert client.get(url, {"disposition": "spam"}).context["cl"].result_count == 1
    # Globex's team is no filter choice, and its agent no agent here.
    page = listed.content.decode()
    assert "Otto" not in page and f"team__id__exact={globex.team.pk}" not in page
    # Globex's conversation is not there; Acme's opens read-only, metadata only.
    other = day.conversations["globex"]
    assert client.get(reverse("admin:chat_conversation_change", args=[other.pk])).status_code == 404
    mine = day.conversations["c1"]
    detail = client.get(reverse("admin:chat_conversation_change", args=[mine.pk]))
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "1 min 0 s" in text and "10 min 0 s" in text
    assert mine.customer_token_hash not in text and "envelope" not in text
    assert 'name="_save"' not in text
    assert client.post(reverse("admin:chat_conversation_add")).status_code == 403
    delete = reverse("admin:chat_conversation_delete", args=[mine.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Conversation.objects.filter(pk=mine.pk).exists()


@pytest.mark.django_db
def test_the_admins_csv_action_downloads_only_acmes_selected_conversations(
    acme: Staff, day: Day
) -> None:
    acme.admin.user.is_staff = True
    acme.admin.user.save()
    chosen = [day.conversations[name].pk for name in ("c1", "c4", "globex")]
    answer = logged_in(acme.admin).post(
        reverse("admin:chat_conversation_changelist"),
        {"action": "download_csv", "_selected_action": [str(pk) for pk in chosen]},
    )
    assert answer["Content-Disposition"].startswith("attachment;")
    rows = read_csv(answer)
    assert [row[0] for row in rows[1:]] == [str(pk) for pk in chosen[:2]]


@pytest.mark.django_db
def test_a_platform_admin_lists_every_tenants_conversations(root: Any, day: Day) -> None:
    client = sign_in_with_second_factor(Client(), root)
    listed = client.get(reverse("admin:chat_conversation_changelist"))
    assert listed.context["cl"].result_count == len(day.conversations)


# The customer's rating.


def closed_chat(staff: Staff) -> tuple[Conversation, str]:
    available(staff.agent)
    _, conversation, token = start_with_keys(staff)
    device = accept(staff, conversation)
    lifecycle.do_close_conversation(conversation, device, "resolved")
    return conversation, token


async def authed(staff: Staff, conversation: Conversation, token: str) -> Socket:
    socket, connected, _ = await open_widget_socket(staff.tenant.widget_id, PAGE)
    assert connected
    await socket.send_to(
        text_data=json.dumps(
            {"type": frames.AUTH, "conversation": str(conversation.id), "token": token}
        )
    )
    assert (await socket.receive_frame())["type"] == frames.HELLO
    return socket


async def rate(socket: Socket, conversation: Conversation, score: object) -> dict[str, Any]:
    frame = {"type": frames.RATE, "conversation": str(conversation.id), "score": score, "ref": 1}
    await socket.send_to(text_data=json.dumps(frame))
    return await socket.receive_frame()


@pytest.mark.django_db(transaction=True)
async def test_a_customer_rates_a_closed_chat_once_from_1_to_5(acme: Staff) -> None:
    conversation, token = await database_sync_to_async(closed_chat)(acme)
    socket = await authed(acme, conversation, token)
    for wrong in (0, 6, "5", True, 4.5, None):
        refused = await rate(socket, conversation, wrong)
        assert (refused["type"], refused["code"]) == (frames.ERROR, "invalid_score"), wrong
    assert await rate(socket, conversation, 4) == {
        "type": frames.RATED,
        "conversation": str(conversation.id),
        "score": 4,
        "ref": 1,
    }
    again = await rate(socket, conversation, 5)
    assert again["code"] == "already_rated"
    stored = await Conversation.objects.aget(pk=conversation.pk)
    assert stored.satisfaction == 4 and stored.rated_at is not None
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_open_chat_or_another_customers_is_not_rated(acme: Staff, globex: Staff) -> None:
    _, conversation, token = await database_sync_to_async(start_with_keys)(acme)
    socket = await authed(acme, conversation, token)
    assert (await rate(socket, conversation, 5))["code"] == "not_closed"
    other, _ = await database_sync_to_async(closed_chat)(globex)
    assert (await rate(socket, other, 5))["code"] == "not_found"
    assert await Conversation.objects.filter(satisfaction__isnull=False).acount() == 0
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_python_client_rates_a_chat_alice_closed(
    acme: Staff, alice: AgentClient, daphne: DaphneServer
) -> None:
    carla = Customer(daphne.url, acme.tenant.widget_id, PAGE)
    try:
        prechat = {"name": "Carla", "email": "", "question": "Is it shipped?"}
        await carla.start(acme.team.pk, prechat)
        chat = await alice.accept_next_offer()
        with pytest.raises(ServerError) as early:
            await carla.rate(5)
        assert early.value.code == "not_closed"
        await chat.close_conversation(disposition="resolved")
        rated = await carla.rate(5)
        assert (rated["type"], rated["score"]) == (frames.RATED, 5)
        with pytest.raises(ServerError) as again:
            await carla.rate(1)
        assert again.value.code == "already_rated"
    finally:
        await carla.close()
    stored = await Conversation.objects.aget(pk=carla.conversation)
    assert stored.satisfaction == 5
