"""Business hours: when people are there, so SLAs count working time and members hear the truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT = {
    "enabled": False,  # off: staff are treated as always there (SLAs count wall time)
    "timezone": "UTC",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "17:00",
    "holidays": [],  # ISO dates, e.g. "2026-12-25"
}
MAX_DAYS_AHEAD = 400


def _clock(text: str) -> time:
    hours, _, minutes = str(text).partition(":")
    return time(int(hours), int(minutes or 0))


@dataclass
class BusinessHours:
    """Opening days and hours in one time zone; `enabled=False` means always open."""

    enabled: bool = False
    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(9)
    end: time = time(17)
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, value: dict[str, Any] | None) -> BusinessHours:
        """Build from the `business_hours` setting; raises ValueError on a bad value."""
        merged = {**DEFAULT, **(value or {})}
        try:
            ZoneInfo(merged["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"Unknown time zone `{merged['timezone']}`.") from exc
        try:
            days = tuple(DAY_NAMES.index(str(d).lower()[:3]) for d in merged["days"])
            start, end = _clock(merged["start"]), _clock(merged["end"])
            holidays = frozenset(date.fromisoformat(d) for d in merged["holidays"])
        except ValueError as exc:
            raise ValueError(f"Business hours are not valid: {exc}.") from exc
        if start >= end:
            raise ValueError("Business hours must start before they end.")
        return cls(bool(merged["enabled"]), merged["timezone"], days, start, end, holidays)

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The opening interval of a local calendar day, in UTC, or None when closed."""
        if day.weekday() not in self.days or day in self.holidays:
            return None
        opens = datetime.combine(day, self.start, self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.end, self.zone).astimezone(UTC)
        return opens, closes

    def is_open(self, when: datetime) -> bool:
        """True when staff are working at `when`."""
        if not self.enabled:
            return True
        interval = self._interval(when.astimezone(self.zone).date())
        return interval is not None and interval[0] <= when < interval[1]

    def next_open(self, when: datetime) -> datetime:
        """`when` itself if open, else the next opening time."""
        if self.is_open(when):
            return when
        day = when.astimezone(self.zone).date()
        for offset in range(MAX_DAYS_AHEAD):
            interval = self._interval(day + timedelta(days=offset))
            if interval and interval[1] > when:
                return max(interval[0], when)
        return when

    def add_business_seconds(self, when: datetime, seconds: float) -> datetime:
        """The moment `seconds` of working time after `when`."""
        if not self.enabled:
            return when + timedelta(seconds=seconds)
        at, left = self.next_open(when), seconds
        for _ in range(MAX_DAYS_AHEAD):
            interval = self._interval(at.astimezone(self.zone).date())
            assert interval is not None
            room = (interval[1] - at).total_seconds()
            if left <= room:
                return at + timedelta(seconds=left)
            left -= room
            at = self.next_open(interval[1])
        return at

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end)."""
        if end <= start:
            return 0.0
        if not self.enabled:
            return (end - start).total_seconds()
        total, day = 0.0, start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            interval = self._interval(day)
            if interval:
                lo, hi = max(interval[0], start), min(interval[1], end)
                total += max(0.0, (hi - lo).total_seconds())
            day += timedelta(days=1)
        return total

    def describe_next_reply(self, now: datetime) -> str:
        """An honest sentence for the member on when a person will reply ('' when open now)."""
        if self.is_open(now):
            return ""
        opens = self.next_open(now).astimezone(self.zone)
        local_now = now.astimezone(self.zone)
        if opens.date() == local_now.date():
            when = f"today at {opens:%H:%M}"
        elif opens.date() == local_now.date() + timedelta(days=1):
            when = f"tomorrow at {opens:%H:%M}"
        else:
            when = f"on {opens:%A} at {opens:%H:%M}"
        return (
            f"Our team is offline right now, so a person will reply {when} ({self.timezone}) "
            "at the earliest."
        )


def with_next_reply(notice: str, setting: dict[str, Any] | None, now: datetime) -> str:
    """The escalation notice plus, outside business hours, when a person will really reply."""
    try:
        note = BusinessHours.from_settings(setting).describe_next_reply(now)
    except ValueError:  # a broken setting never costs the member their notice
        return notice
    if not note or note in notice:
        return notice
    return f"{notice} {note}".strip()
