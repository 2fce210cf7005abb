"""Business hours per team (agents/hours.py): Acme's Support answers Monday to Friday, 09:00 to
17:30 Berlin time, and not on Christmas Day. Outside them the widget's config says so and when it
opens, and a chat cannot start (a message can: tests/test_offline_messages.py). Acme's tenant
admin sets them with clear errors for what does not read; Globex's hours are its own.
"""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from agents.hours import Schedule, parse_holidays, parse_hours, validate_time_zone
from agents.models import Team
from chat.errors import ChatError
from tests.admin_forms import admin_post
from tests.factories import PASSWORD, Staff, start

pytestmark = pytest.mark.django_db

PAGE = "https://www.acme.example"
BERLIN = Schedule.of(
    "Europe/Berlin", "mon-fri 09:00-17:30\nsat 10:00-14:00", "2026-12-25 Christmas"
)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_open_within_hours_in_the_teams_time_zone() -> None:
    # Tuesday 1 December 2026: Berlin is UTC+1 in winter.
    assert not BERLIN.is_open(utc(2026, 12, 1, 7, 59))  # 08:59 in Berlin
    assert BERLIN.is_open(utc(2026, 12, 1, 8, 0))  # 09:00
    assert BERLIN.is_open(utc(2026, 12, 1, 16, 29))  # 17:29
    assert not BERLIN.is_open(utc(2026, 12, 1, 16, 30))  # 17:30: closed
    assert BERLIN.is_open(utc(2026, 12, 5, 9, 30))  # Saturday 10:30
    assert not BERLIN.is_open(utc(2026, 12, 6, 10, 0))  # Sunday
    # In summer Berlin is UTC+2: 09:00 there is 07:00 UTC.
    assert BERLIN.is_open(utc(2026, 7, 1, 7, 0))
    assert not BERLIN.is_open(utc(2026, 7, 1, 6, 59))


def test_closed_on_holidays_and_says_when_it_opens_next() -> None:
    christmas = utc(2026, 12, 25, 10, 0)  # a Friday
    assert not BERLIN.is_open(christmas)
    # Next: Saturday 26th at 10:00 Berlin time.
    assert BERLIN.next_opening(christmas) == utc(2026, 12, 26, 9, 0)
    # Friday evening: Saturday 10:00; Saturday afternoon: Monday 09:00.
    assert BERLIN.next_opening(utc(2026, 12, 4, 18, 0)) == utc(2026, 12, 5, 9, 0)
    assert BERLIN.next_opening(utc(2026, 12, 5, 14, 0)) == utc(2026, 12, 7, 8, 0)
    assert BERLIN.next_opening(utc(2026, 12, 1, 10, 0)) is None  # open now


def test_spans_past_midnight_and_no_hours_at_all() -> None:
    night = Schedule.of("UTC", "fri 22:00-02:00", "")
    assert night.is_open(utc(2026, 12, 4, 23, 0))  # Friday 23:00
    assert night.is_open(utc(2026, 12, 5, 1, 59))  # Saturday 01:59
    assert not night.is_open(utc(2026, 12, 5, 2, 0))
    always = Schedule.of("", "", "")
    assert always.always_open and always.is_open(utc(2026, 12, 25, 3, 0))
    assert Schedule.of("UTC", "mon-sun 00:00-24:00", "").is_open(utc(2026, 12, 6, 23, 59))


@pytest.mark.parametrize(
    ("check", "text", "says"),
    [
        (parse_hours, "weekdays 9-5", "write days and a time span"),
        (parse_hours, "mon-fri 09:00-25:00", "is not a time of day"),
        (parse_hours, "mon-fri 09:60-17:00", "is not a time of day"),
        (parse_hours, "mon 09:00-09:00", "the span is empty"),
        (parse_hours, "mo-fr 09:00-17:00", "is not a day"),
        (parse_holidays, "25.12.2026", "write a date as 2026-12-25"),
        (parse_holidays, "2026-02-30", "write a date as 2026-12-25"),
        (validate_time_zone, "Mars/Olympus", "is not a time zone"),
    ],
)
def test_what_does_not_read_is_refused_with_the_line(check: object, text: str, says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check(text)  # type: ignore[operator]
    assert says in refused.value.messages[0]


def test_tenant_admin_sets_hours_and_sees_clear_errors(client: Client, acme: Staff) -> None:
    client.login(username=acme.admin.user.username, password=PASSWORD)
    url = reverse("admin:agents_team_change", args=[acme.team.pk])
    bad = admin_post(
        client,
        url,
        {"name": "Support", "time_zone": "Berlin", "hours": "mon-fri 9-17", "holidays": ""},
    )
    assert bad.status_code == 200
    page = bad.content.decode()
    assert "is not a time zone" in page and "write days and a time span" in page
    acme.team.refresh_from_db()
    assert acme.team.hours == ""  # nothing stored from refused input
    good = admin_post(
        client,
        url,
        {
            "name": "Support",
            "time_zone": "Europe/Berlin",
            "hours": "mon-fri 09:00-17:30",
            "holidays": "2026-12-25 Christmas",
        },
    )
    assert good.status_code == 302
    acme.team.refresh_from_db()
    assert (acme.team.time_zone, acme.team.hours) == ("Europe/Berlin", "mon-fri 09:00-17:30")


def test_outside_hours_the_widget_is_told_and_a_chat_cannot_start(
    client: Client, acme: Staff, globex: Staff
) -> None:
    # Closed all of today, wherever the test runs: today is a holiday.
    today = datetime.now(UTC).date().isoformat()
    Team.objects.filter(pk=acme.team.pk).update(hours="mon-sun 00:00-24:00", holidays=today)
    acme.team.refresh_from_db()
    config = client.get(
        f"/api/widget/{acme.tenant.widget_id}/config", headers={"origin": PAGE}
    ).json()
    [support] = config["teams"]
    assert support["open"] is False and support["opens_at"] is not None
    with pytest.raises(ChatError) as refused:
        start(acme)
    assert refused.value.code == "team_closed"
    # Globex's Support has no hours: always open, whatever Acme set.
    assert start(globex).state == "queued"
    globex_config = client.get(
        f"/api/widget/{globex.tenant.widget_id}/config",
        headers={"origin": "https://www.globex.example"},
    ).json()
    assert globex_config["teams"][0]["open"] is True


def test_hours_that_no_longer_read_count_as_always_open(acme: Staff) -> None:
    # Stored past the admin's checks (by hand, or a time zone a newer database dropped).
    Team.objects.filter(pk=acme.team.pk).update(time_zone="Mars/Olympus", hours="mon 09:00-10:00")
    acme.team.refresh_from_db()
    assert acme.team.schedule().always_open
    assert start(acme).state == "queued"
