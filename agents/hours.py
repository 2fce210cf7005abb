"""Business hours of a team: when its agents answer chats, in the team's time zone.

A team's hours are lines of text a tenant admin writes, one span of days a line:

    mon-fri 09:00-17:30
    sat 10:00-14:00

and its holidays one date a line (`2026-12-25`, optionally followed by a name). No hours at all
means always open. A span may end at 24:00; one that ends before it starts runs past midnight
(`fri 22:00-02:00` is open until 2 on Saturday morning). A holiday closes the spans that start on
it (the Friday-night span above is closed whole when Friday is a holiday, open whole when
Saturday is). Times are wall-clock times: on the night clocks go forward, a span that starts in
the skipped hour opens an hour later.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LINE = re.compile(
    r"^(?P<first>[a-z]+)(?:\s*-\s*(?P<last>[a-z]+))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)
HOLIDAY = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})(?:\s+(?P<name>.*))?$")


@dataclass(frozen=True)
class Span:
    """Open on WEEKDAY (0 is Monday) from START minutes after midnight to END (may pass 1440)."""

    weekday: int
    start: int
    end: int


def _minutes(text: str, line: str, allow_24: bool) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValidationError(f"{line!r}: {text} is not a time of day (00:00 to 24:00).")
    return hours * 60 + minutes


def parse_hours(text: str) -> list[Span]:
    """Return the spans TEXT gives, or raise ValidationError naming the line at fault."""
    spans: list[Span] = []
    for raw in text.splitlines():
        line = raw.strip().lower()
        if not line:
            continue
        match = LINE.match(line)
        if match is None:
            raise ValidationError(
                f"{raw.strip()!r}: write days and a time span, such as mon-fri 09:00-17:00."
            )
        names = [match["first"], match["last"] or match["first"]]
        for name in names:
            if name not in DAYS:
                raise ValidationError(f"{raw.strip()!r}: {name} is not a day (mon, tue, ... sun).")
        first, last = (DAYS.index(name) for name in names)
        start = _minutes(match["start"], raw.strip(), allow_24=False)
        end = _minutes(match["end"], raw.strip(), allow_24=True)
        if end == start:
            raise ValidationError(f"{raw.strip()!r}: the span is empty.")
        if end < start:
            end += 24 * 60  # past midnight
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        spans.extend(Span(day, start, end) for day in days)
    return spans


def parse_holidays(text: str) -> dict[date, str]:
    """Return the holidays TEXT gives, by date, or raise ValidationError naming the line."""
    holidays = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = HOLIDAY.match(line)
        try:
            day = date.fromisoformat(match["day"]) if match else None
        except ValueError:
            day = None
        if match is None or day is None:
            raise ValidationError(f"{line!r}: write a date as 2026-12-25, then a name if you like.")
        holidays[day] = (match["name"] or "").strip()
    return holidays


def validate_time_zone(name: str) -> None:
    """Refuse a time zone name the IANA database does not know (empty is UTC)."""
    if not name:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"{name!r} is not a time zone: use a name such as Europe/Berlin or UTC."
        ) from None
    if name not in available_timezones() and name != "UTC":
        raise ValidationError(f"{name!r} is not a time zone: use a name such as Europe/Berlin.")


@dataclass(frozen=True)
class Schedule:
    """A team's business hours, ready to ask."""

    zone: ZoneInfo
    spans: list[Span]
    holidays: dict[date, str]

    @classmethod
    def of(cls, time_zone: str, hours: str, holidays: str) -> "Schedule":
        return cls(ZoneInfo(time_zone or "UTC"), parse_hours(hours), parse_holidays(holidays))

    @property
    def always_open(self) -> bool:
        return not self.spans

    def _open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return the spans that start on DAY (a holiday has none), as aware datetimes."""
        if day in self.holidays:
            return []
        midnight = datetime.combine(day, time(), tzinfo=self.zone)
        return [
            (
                _local(midnight, span.start, self.zone),
                _local(midnight, span.end, self.zone),
            )
            for span in self.spans
            if span.weekday == day.weekday()
        ]

    def is_open(self, now: datetime) -> bool:
        """Return whether the team answers at NOW (an aware datetime)."""
        if self.always_open:
            return True
        local = now.astimezone(self.zone)
        # A span of yesterday may run past midnight.
        for day in (local.date() - timedelta(days=1), local.date()):
            if any(start <= now < end for start, end in self._open_intervals(day)):
                return True
        return False

    def next_opening(self, now: datetime) -> datetime | None:
        """Return when the team opens next after NOW, or None if it never does (within a year),
        or is open now."""
        if self.is_open(now):
            return None
        local = now.astimezone(self.zone).date()
        for offset in range(0, 370):
            starts = sorted(
                start
                for start, _ in self._open_intervals(local + timedelta(days=offset))
                if start > now
            )
            if starts:
                return starts[0]
        return None


def _local(midnight: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """Return the wall-clock time MINUTES after MIDNIGHT's date began, in ZONE."""
    day = midnight.date() + timedelta(days=minutes // (24 * 60))
    minutes %= 24 * 60
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
