"""Reports for tenant admins and supervisors, from metadata the server has without reading a word
of any chat: when conversations started, were taken and closed, which offers agents missed or
declined, the wrap-up dispositions and the customers' satisfaction scores.

Every figure is an aggregate query; only percentiles are computed here, from one list of
durations per report (bench/reports_bench.py measures both). A report covers the conversations
that STARTED in its period, in UTC days, and every figure counts those only: an offer of a chat
started the day before the period is in the day before's report.
"""

import csv
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)

from agents.models import Team
from chat.models import Conversation, Offer, Participant

# The longest period a report covers: a year and a day, so a leap year fits.
MAX_DAYS = 366
SCORES = range(1, 6)

Closed = Q(state=Conversation.State.CLOSED)
WAITING = ExpressionWrapper(F("accepted_at") - F("created_at"), output_field=DurationField())
HANDLING = ExpressionWrapper(F("closed_at") - F("accepted_at"), output_field=DurationField())


@dataclass(frozen=True)
class Period:
    """The UTC days FIRST to LAST, both included."""

    first: date
    last: date

    @classmethod
    def last_days(cls, days: int, today: date) -> "Period":
        """Return the DAYS days up to TODAY, today included."""
        return cls(today - timedelta(days=days - 1), today)

    def bounds(self) -> tuple[datetime, datetime]:
        """Return the period's start and the start of the day after its last, in UTC."""
        start = datetime.combine(self.first, time.min, tzinfo=UTC)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)
        return start, end


def conversations_in(teams: QuerySet[Team], period: Period) -> QuerySet[Conversation]:
    """Return the conversations of TEAMS that started in PERIOD."""
    start, end = period.bounds()
    return Conversation.objects.filter(team__in=teams, created_at__gte=start, created_at__lt=end)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Return the P-th percentile (0 to 100) of sorted VALUES, interpolated between the two
    nearest values (as a spreadsheet's PERCENTILE does); None for no values."""
    if not values:
        return None
    rank = (len(values) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return values[low] + (values[high] - values[low]) * (rank - low)


def spread(durations: Iterable[timedelta | None]) -> dict[str, float | int | None]:
    """Return how many DURATIONS there are, and their median and 90th percentile in seconds
    (to a tenth: finer is noise in a wait)."""
    seconds = sorted(d.total_seconds() for d in durations if d is not None)
    median, p90 = percentile(seconds, 50), percentile(seconds, 90)
    return {
        "count": len(seconds),
        "median": None if median is None else round(median, 1),
        "p90": None if p90 is None else round(p90, 1),
    }


def figures(conversations: QuerySet[Conversation]) -> dict[str, Any]:
    """Return the figures of CONVERSATIONS: totals, per team, per agent, dispositions and
    satisfaction. Seven queries, whatever the number of conversations."""
    rated = Q(satisfaction__isnull=False)
    counts = {
        "conversations": Count("pk"),
        "taken": Count("pk", filter=Q(accepted_at__isnull=False)),
        "closed": Count("pk", filter=Closed),
        # Closed before any agent took it: the customer left, or no agent was there.
        "unanswered": Count("pk", filter=Closed & Q(accepted_at__isnull=True)),
        "satisfaction": Avg("satisfaction"),
    }
    # "rated" before "satisfaction", whose alias would shadow the field its filter reads.
    totals = conversations.aggregate(rated=Count("pk", filter=rated), **counts)
    teams = list(
        conversations.values("team_id", "team__name")
        .annotate(**counts)
        .order_by("team__name", "team_id")
    )
    # One list of durations for every percentile: (team, waiting, handling) per taken chat.
    durations = list(
        conversations.filter(accepted_at__isnull=False)
        .annotate(waiting=WAITING, handling=HANDLING)
        .values_list("team_id", "waiting", "handling")
    )
    by_team: dict[int, list[tuple[int, timedelta | None, timedelta | None]]] = {}
    for row in durations:
        by_team.setdefault(row[0], []).append(row)
    for team in teams:
        mine = by_team.get(team["team_id"], [])
        team["waiting"] = spread(d[1] for d in mine)
        team["handling"] = spread(d[2] for d in mine)
    # Offers say who was asked and what became of it; participations say who took part, which
    # a message picked up from the offline messages does without any offer.
    offered = {
        row["agent_id"]: row
        for row in Offer.objects.filter(conversation__in=conversations)
        .values("agent_id", "agent__display_name")
        .annotate(
            offers=Count("pk"),
            missed=Count("pk", filter=Q(state=Offer.State.EXPIRED)),
            declined=Count("pk", filter=Q(state=Offer.State.DECLINED)),
        )
    }
    took = {
        row["agent_id"]: row
        for row in Participant.objects.filter(
            conversation__in=conversations, role=Participant.Role.AGENT
        )
        .values("agent_id", "agent__display_name")
        .annotate(
            taken=Count("conversation", distinct=True),
            # Over the agent's participations: a chat it took twice (parked, and back to it)
            # counts twice.
            satisfaction=Avg("conversation__satisfaction"),
        )
    }
    agents = sorted(
        (
            {
                "agent_id": agent_id,
                "agent__display_name": (offered.get(agent_id) or took[agent_id])[
                    "agent__display_name"
                ],
                "offers": offered.get(agent_id, {}).get("offers", 0),
                "taken": took.get(agent_id, {}).get("taken", 0),
                "missed": offered.get(agent_id, {}).get("missed", 0),
                "declined": offered.get(agent_id, {}).get("declined", 0),
                "satisfaction": took.get(agent_id, {}).get("satisfaction"),
            }
            for agent_id in offered.keys() | took.keys()
        ),
        key=lambda row: (row["agent__display_name"], row["agent_id"]),
    )
    labels = {"": "No wrap-up (the customer ended it)", **dict(Conversation.Disposition.choices)}
    dispositions = [
        {**row, "label": labels.get(row["disposition"], row["disposition"])}
        for row in conversations.filter(Closed)
        .values("disposition")
        .annotate(count=Count("pk"))
        .order_by("-count", "disposition")
    ]
    scores = dict(
        conversations.filter(rated)
        .values("satisfaction")
        .annotate(count=Count("pk"))
        .values_list("satisfaction", "count")
    )
    return {
        "totals": {
            **totals,
            "waiting": spread(d[1] for d in durations),
            "handling": spread(d[2] for d in durations),
        },
        "teams": teams,
        "agents": agents,
        "dispositions": dispositions,
        "satisfaction": [{"score": s, "count": scores.get(s, 0)} for s in SCORES],
    }


# CSV: what a spreadsheet opens. A cell a spreadsheet would run as a formula starts with "'".

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Return VALUE as a CSV cell no spreadsheet runs as a formula (OWASP's "CSV injection")."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Yield ROWS as CSV lines, each cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _seconds(duration: timedelta | None) -> int | str:
    return round(duration.total_seconds()) if duration is not None else ""


def _time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _number(value: float | int | None) -> float | int | str:
    return "" if value is None else round(value, 2)


CONVERSATION_COLUMNS = (
    "conversation",
    "team",
    "state",
    "started (UTC)",
    "taken (UTC)",
    "closed (UTC)",
    "waiting (s)",
    "handling (s)",
    "agents",
    "disposition",
    "satisfaction",
)


def conversation_rows(conversations: QuerySet[Conversation]) -> Iterator[Sequence[object]]:
    """Yield the CSV rows of CONVERSATIONS, metadata only, with a header first. Two queries,
    and rows rather than model instances (bench/reports_bench.py: a prefetch per batch of
    instances took three times as long)."""
    yield CONVERSATION_COLUMNS
    took: dict[object, dict[str, None]] = {}
    for conversation_id, name in (
        Offer.objects.filter(state=Offer.State.ACCEPTED, conversation__in=conversations)
        .order_by("decided_at", "pk")
        .values_list("conversation_id", "agent__display_name")
    ):
        took.setdefault(conversation_id, {})[name] = None
    rows = conversations.order_by("created_at", "pk").values_list(
        "id",
        "team__name",
        "state",
        "created_at",
        "accepted_at",
        "closed_at",
        "disposition",
        "satisfaction",
    )
    for pk, team, state, created, accepted, closed, disposition, score in rows.iterator(
        chunk_size=2000
    ):
        yield (
            str(pk),
            team,
            state,
            _time(created),
            _time(accepted),
            _time(closed),
            _seconds(accepted - created if accepted else None),
            _seconds(closed - accepted if closed and accepted else None),
            "; ".join(took.get(pk, ())),
            disposition,
            score or "",
        )


def figure_rows(report: dict[str, Any], period: Period) -> Iterator[Sequence[object]]:
    """Yield the CSV rows of a report's figures: one table after another, each with a header."""
    totals = report["totals"]
    yield ("section", "name", "figure", "value")
    yield ("period", "", "first day (UTC)", period.first.isoformat())
    yield ("period", "", "last day (UTC)", period.last.isoformat())
    for name in ("conversations", "taken", "closed", "unanswered", "rated"):
        yield ("totals", "", name, totals[name])
    yield ("totals", "", "satisfaction", _number(totals["satisfaction"]))
    for kind in ("waiting", "handling"):
        for figure in ("median", "p90"):
            yield ("totals", "", f"{kind} {figure} (s)", _number(totals[kind][figure]))
    for team in report["teams"]:
        name = team["team__name"]
        for figure in ("conversations", "taken", "closed", "unanswered"):
            yield ("team", name, figure, team[figure])
        yield ("team", name, "satisfaction", _number(team["satisfaction"]))
        for kind in ("waiting", "handling"):
            for figure in ("median", "p90"):
                yield ("team", name, f"{kind} {figure} (s)", _number(team[kind][figure]))
    for agent in report["agents"]:
        name = agent["agent__display_name"]
        for figure in ("offers", "taken", "missed", "declined"):
            yield ("agent", name, figure, agent[figure])
        yield ("agent", name, "satisfaction", _number(agent["satisfaction"]))
    for row in report["dispositions"]:
        yield ("disposition", row["disposition"], row["label"], row["count"])
    for row in report["satisfaction"]:
        yield ("satisfaction", str(row["score"]), "conversations", row["count"])
