"""Reports in Chromium (issue 12, part 3): Ada, Acme's tenant admin, opens the report of the
scripted day (tests/reports_day.py): its charts draw, its figures are those worked out by hand,
and the CSV her browser downloads is the conversation list. Then Carla rates her chat with
Alice in the widget, Sam's board shows Alice's chats against her maximum meanwhile, and the
rating shows in Ada's report."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agents.access import report_teams
from chat import reports
from chat.models import Conversation, Event
from tests.browser import (
    PageProblems,
    chat_in_chromium,
    chromium,
    csp_violations,
    log_in_agent,
    open_page,
    outside_playwright,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer
from tests.reports_day import script_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How many pixels of a canvas are drawn (not transparent).
DRAWN_PIXELS = """(id) => {
  const canvas = document.getElementById(id);
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let drawn = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn += 1;
  return drawn;
}"""
CHARTS = ("chart-teams", "chart-agents", "chart-dispositions", "chart-satisfaction")


def open_reports(page: Page, url: str, username: str) -> None:
    log_in_agent(page, url, username, PASSWORD, available=False)
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()


def charts_drawn(page: Page) -> None:
    """Wait until the reports page drew its charts, which it does once its catalogue arrived."""
    expect(page.locator(".reports")).to_have_attribute("data-charts", "drawn")


def figure(page: Page, name: str) -> str:
    return page.locator(f'[data-figure="{name}"]').inner_text()


def row_of(page: Page, table: str, name: str) -> list[str]:
    row = page.locator(f"#{table} tbody tr").filter(has=page.get_by_role("rowheader", name=name))
    return [cell.strip() for cell in row.locator("th, td").all_inner_texts()]


def assert_clean(pages: list[tuple[Page, PageProblems]]) -> None:
    for page, problems in pages:
        assert csp_violations(page) == []
        assert problems.errors == []


def test_ada_reads_the_days_figures_sees_the_charts_and_downloads_the_csv(
    acme: Staff, globex: Staff, daphne: DaphneServer, tmp_path: Path
) -> None:
    # Before any page opens a socket, which starts the server's sweeper of overdue offers.
    day = outside_playwright(script_day, acme, globex)
    with chromium() as browser:
        ada, problems = open_page(browser)
        open_reports(ada, daphne.url, "ada")
        assert figure(ada, "conversations") == "6"
        assert figure(ada, "taken") == "4"
        assert figure(ada, "unanswered") == "1"
        assert figure(ada, "waiting-median") == "1 min 30 s"
        assert figure(ada, "waiting-p90") == "2 min 42 s"
        assert figure(ada, "handling-median") == "7 min 30 s"
        assert figure(ada, "handling-p90") == "17 min"
        assert figure(ada, "satisfaction") == "4.0 from 3 ratings"
        assert row_of(ada, "teams-table", "Support") == [
            "Support", "4", "2", "1", "2 min / 2 min 48 s", "15 min / 19 min", "4.0",
        ]  # fmt: skip
        assert row_of(ada, "agents-table", "Alice") == ["Alice", "4", "2", "1", "1", "4.0"]
        assert row_of(ada, "agents-table", "Bob") == ["Bob", "2", "2", "0", "0", "4.0"]
        assert row_of(ada, "dispositions-table", "Spam or abuse") == ["Spam or abuse", "1"]
        assert row_of(ada, "satisfaction-table", "5") == ["5", "1"]
        assert "Otto" not in ada.content()

        # Chart.js drew every chart (an empty canvas has no pixel drawn).
        charts_drawn(ada)
        for chart in CHARTS:
            assert ada.evaluate(DRAWN_PIXELS, chart) > 500, chart

        # The CSV, as the browser saves it, is the conversation list of Ada's tenant.
        with ada.expect_download() as downloading:
            ada.get_by_role("link", name="the conversations").click()
        download = downloading.value
        assert download.suggested_filename.startswith("sealdesk-conversations-")
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        rows = list(csv.reader(io.StringIO(saved.read_text())))

        def expected() -> list[list[str]]:
            period = reports.Period.last_days(7, datetime.now(UTC).date())
            listed = reports.conversations_in(report_teams(acme.admin), period)
            text = "".join(reports.csv_text(reports.conversation_rows(listed)))
            return list(csv.reader(io.StringIO(text)))

        assert rows == outside_playwright(expected)
        assert len(rows) == 7
        c1 = next(row for row in rows if row[0] == str(day.conversations["c1"].id))
        assert c1[6:] == ["60", "600", "Alice", "resolved", "5"]

        with ada.expect_download() as downloading:
            ada.get_by_role("link", name="the figures").click()
        saved = tmp_path / "figures.csv"
        downloading.value.save_as(saved)
        found = {tuple(r[:3]): r[3] for r in csv.reader(io.StringIO(saved.read_text()))}
        assert found[("totals", "", "conversations")] == "6"
        assert found[("agent", "Alice", "missed")] == "1"

        # Sales only.
        ada.get_by_label("Team", exact=True).select_option(label="Sales")
        ada.get_by_role("button", name="Show").click()
        expect(ada.locator('[data-figure="conversations"]')).to_have_text("2")
        charts_drawn(ada)
        assert ada.evaluate(DRAWN_PIXELS, "chart-teams") > 500
        assert_clean([(ada, problems)])


def test_carla_rates_her_chat_in_the_widget_and_adas_report_counts_it(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    question = "Has my refund been sent?"
    with chat_in_chromium(daphne.url, demo_site, "Carla", question) as chat:
        # Sam's board shows Alice with the chat in hand, against her maximum.
        sam, sam_problems = open_page(chat.browser)
        log_in_agent(sam, daphne.url, "sam", PASSWORD, available=False)
        expect(sam.locator("#board-agents")).to_contain_text("Alice: Available, 1 of 3 chats")
        expect(sam.locator("#board-queues")).to_contain_text("Support: 0 waiting, 1 in progress")

        rating = chat.dialog.get_by_role("group", name="How was this chat?")
        expect(rating).to_be_hidden()
        chat.agent.get_by_label("Wrap-up").select_option("resolved")
        chat.agent.get_by_role("button", name="Close conversation").click()
        expect(chat.dialog.locator("p.state")).to_have_text("This conversation has ended.")
        expect(rating).to_be_visible()
        rating.get_by_role("button", name="4", exact=True).click()
        expect(rating.get_by_role("status")).to_have_text(
            "Thank you: you rated this chat 4 out of 5."
        )
        expect(rating.get_by_role("button", name="5", exact=True)).to_be_disabled()
        # A comment goes with the score, sealed in Carla's browser for the people in the chat.
        chat.dialog.get_by_label("Add a comment (optional)").fill("The refund arrived: thanks!")
        chat.dialog.get_by_role("button", name="Send comment").click()
        expect(chat.dialog.locator(".comment-status")).to_have_text("Thank you for your comment.")
        expect(sam.locator("#board-agents")).to_contain_text("Alice: Available, 0 of 3 chats")

        def stored() -> tuple[int | None, str, list[str]]:
            conversation = Conversation.objects.get()
            closed = conversation.events.get(kind=Event.Kind.CLOSED).seq
            after = [str(e.body) for e in conversation.events.filter(seq__gt=closed)]
            return conversation.satisfaction, conversation.disposition, after

        satisfaction, disposition, after_close = outside_playwright(stored)
        assert (satisfaction, disposition) == (4, "resolved")
        assert len(after_close) == 1 and "refund arrived" not in after_close[0]

        # After a reload the widget, open as it was, remembers the rating.
        chat.customer.reload()
        expect(rating.get_by_role("status")).to_have_text(
            "Thank you: you rated this chat 4 out of 5."
        )
        expect(chat.dialog.locator(".comment-status")).to_have_text("Thank you for your comment.")

        ada, ada_problems = open_page(chat.browser)
        open_reports(ada, daphne.url, "ada")
        assert figure(ada, "satisfaction") == "4.0 from 1 rating"
        assert row_of(ada, "satisfaction-table", "4") == ["4", "1"]
        assert row_of(ada, "dispositions-table", "Resolved") == ["Resolved", "1"]
        charts_drawn(ada)
        assert ada.evaluate(DRAWN_PIXELS, "chart-satisfaction") > 500
        assert_clean(
            [
                (chat.customer, chat.problems),
                (chat.agent, chat.agent_problems),
                (sam, sam_problems),
                (ada, ada_problems),
            ]
        )
