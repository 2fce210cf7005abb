"""A scripted day of chats for the reports' tests, made through the real actions on a clock
the script sets: Acme's Support and Sales teams, Alice and Bob, a declined and a missed offer,
wrap-ups and ratings; one chat of Globex's (the outsider), and one of Acme's a week earlier.

A plain module, as tests/admin_forms.py is, shared by tests/test_reports.py and
tests/test_reports_browser.py. The figures the day must give are DAY_FIGURES below, worked out
by hand from the script.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock

from agents.models import Agent, Device, Team
from chat.actions import lifecycle, offers, presence, satisfaction
from chat.builtin_router import BuiltinRouter
from chat.models import Conversation
from tests.factories import Staff, available, make_agent, pending, start


class Clock:
    """The time django.utils.timezone.now() gives while the script runs."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def at(self, moment: datetime) -> None:
        self.now = moment


@contextmanager
def clock_at(moment: datetime) -> Iterator[Clock]:
    clock = Clock(moment)
    with mock.patch("django.utils.timezone.now", side_effect=lambda: clock.now):
        yield clock


def the_day() -> date:
    """Yesterday in UTC: inside the reports' default period (the last seven days) whenever the
    tests run."""
    return datetime.now(UTC).date() - timedelta(days=1)


@dataclass
class Day:
    day: date
    sales: Team
    bob: Agent
    conversations: dict[str, Conversation]


def _start(staff: Staff, team: Team, clock: Clock, moment: datetime) -> Conversation:
    clock.at(moment)
    conversation = start(staff, team)
    # A model's default clock is the real one: the start is set to the script's.
    Conversation.objects.filter(pk=conversation.pk).update(created_at=moment, queued_at=moment)
    conversation.refresh_from_db()
    return conversation


def _offered(staff: Staff, team: Team, conversation: Conversation, agent: Agent) -> int:
    BuiltinRouter(staff.tenant).dispatch(team)
    offer = pending(conversation)
    assert offer is not None and offer.agent == agent, offer
    return offer.pk


def _take(
    staff: Staff, team: Team, conversation: Conversation, agent: Agent, clock: Clock, at: datetime
) -> Device:
    offer = _offered(staff, team, conversation, agent)
    clock.at(at)
    device = agent.devices.get()
    offers.do_accept_offer(agent, device, offer)
    return device


def _close(
    conversation: Conversation, device: Device, disposition: str, clock: Clock, at: datetime
) -> None:
    clock.at(at)
    lifecycle.do_close_conversation(conversation, device, disposition)


def _rate(conversation: Conversation, score: int) -> None:
    conversation.refresh_from_db()
    satisfaction.do_rate_conversation(conversation, conversation.customer_device, score)


def script_day(acme: Staff, globex: Staff, day: date | None = None) -> Day:
    """Play Acme's and Globex's day on DAY (yesterday by default); return what it made."""
    day = day or the_day()
    # Ten minutes to take an offer: the script's waits of up to three minutes need no second.
    for staff in (acme, globex):
        staff.tenant.offer_timeout_seconds = 600
        staff.tenant.save(update_fields=["offer_timeout_seconds"])
    sales = Team.objects.create(tenant=acme.tenant, name="Sales")
    bob = make_agent(acme.tenant, "bob", teams=(sales,))

    def at(hours: int, minutes: int = 0, seconds: int = 0) -> datetime:
        return datetime.combine(day, time(hours, minutes, seconds), tzinfo=UTC)

    made: dict[str, Conversation] = {}
    earlier = datetime.combine(day - timedelta(days=8), time(9), tzinfo=UTC)
    with clock_at(earlier - timedelta(minutes=1)) as clock:
        available(acme.agent, bob)
        alice = acme.agent

        # Acme, eight days earlier: outside the day, and outside the last seven days; 2.
        old = made["earlier"] = _start(acme, acme.team, clock, earlier)
        device = _take(acme, acme.team, old, alice, clock, earlier + timedelta(minutes=5))
        _close(old, device, Conversation.Disposition.RESOLVED, clock, earlier + timedelta(hours=2))
        _rate(old, 2)

        # Support, 09:00: Alice takes it after a minute and closes it ten minutes later; 5.
        c1 = made["c1"] = _start(acme, acme.team, clock, at(9))
        device = _take(acme, acme.team, c1, alice, clock, at(9, 1))
        _close(c1, device, Conversation.Disposition.RESOLVED, clock, at(9, 11))
        _rate(c1, 5)

        # Support, 10:00: Alice declines it, is offered it again after the minute a decline
        # keeps it from her, and takes it at 10:03; twenty minutes, needs follow-up; 3.
        c2 = made["c2"] = _start(acme, acme.team, clock, at(10))
        clock.at(at(10, 0, 10))
        offers.do_decline_offer(alice, _offered(acme, acme.team, c2, alice))
        clock.at(at(10, 2, 45))
        device = _take(acme, acme.team, c2, alice, clock, at(10, 3))
        _close(c2, device, Conversation.Disposition.FOLLOW_UP, clock, at(10, 23))
        _rate(c2, 3)

        # Support, 11:00: Alice misses the offer; the customer gives up at 11:12.
        c3 = made["c3"] = _start(acme, acme.team, clock, at(11))
        _offered(acme, acme.team, c3, alice)
        clock.at(at(11, 10))
        assert offers.do_expire_offers(at(11, 10)) == 1
        clock.at(at(11, 12))
        lifecycle.do_close_conversation(c3, c3.customer_device)

        # Sales, 12:00: Bob takes it after 30 s, resolved five minutes later; 4.
        c4 = made["c4"] = _start(acme, sales, clock, at(12))
        device = _take(acme, sales, c4, bob, clock, at(12, 0, 30))
        _close(c4, device, Conversation.Disposition.RESOLVED, clock, at(12, 5, 30))
        _rate(c4, 4)

        # Sales, 13:00: Bob takes it after two minutes; spam two minutes later; no rating.
        c5 = made["c5"] = _start(acme, sales, clock, at(13))
        device = _take(acme, sales, c5, bob, clock, at(13, 2))
        _close(c5, device, Conversation.Disposition.SPAM, clock, at(13, 4))

        # Support, 14:00: nobody is there; it still waits when the day is reported.
        clock.at(at(13, 59))
        for agent in (alice, bob):
            presence.do_set_presence(agent, Agent.Presence.OFFLINE)
        made["c6"] = _start(acme, acme.team, clock, at(14))

        # Globex, the outsider, 09:30: Otto's chat, rated 1: never in Acme's figures.
        clock.at(at(9, 25))
        available(globex.agent)
        o1 = made["globex"] = _start(globex, globex.team, clock, at(9, 30))
        device = _take(globex, globex.team, o1, globex.agent, clock, at(9, 35))
        _close(o1, device, Conversation.Disposition.RESOLVED, clock, at(10, 45))
        _rate(o1, 1)
    return Day(day=day, sales=sales, bob=bob, conversations=made)


# What Acme's whole day gives, in seconds where it is a time (chat/reports.py interpolates
# percentiles between the two nearest values).
DAY_TOTALS = {
    "conversations": 6,
    "taken": 4,
    "closed": 5,
    "unanswered": 1,
    "rated": 3,
    "satisfaction": 4.0,
    # Waits 60, 180, 30, 120; handling 600, 1200, 300, 120.
    "waiting": {"count": 4, "median": 90.0, "p90": 162.0},
    "handling": {"count": 4, "median": 450.0, "p90": 1020.0},
}
DAY_TEAMS = {
    "Sales": {
        "conversations": 2,
        "taken": 2,
        "closed": 2,
        "unanswered": 0,
        "satisfaction": 4.0,
        "waiting": {"count": 2, "median": 75.0, "p90": 111.0},
        "handling": {"count": 2, "median": 210.0, "p90": 282.0},
    },
    "Support": {
        "conversations": 4,
        "taken": 2,
        "closed": 3,
        "unanswered": 1,
        "satisfaction": 4.0,
        "waiting": {"count": 2, "median": 120.0, "p90": 168.0},
        "handling": {"count": 2, "median": 900.0, "p90": 1140.0},
    },
}
DAY_AGENTS = {
    "Alice": {"offers": 4, "taken": 2, "missed": 1, "declined": 1, "satisfaction": 4.0},
    "Bob": {"offers": 2, "taken": 2, "missed": 0, "declined": 0, "satisfaction": 4.0},
}
DAY_DISPOSITIONS = {"resolved": 2, "follow_up": 1, "": 1, "spam": 1}
DAY_SCORES = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}
