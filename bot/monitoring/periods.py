"""Periods people type: `8w`, `30d`, `24h` → a timedelta, with one-line errors."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"h": 1 / 24, "d": 1, "w": 7}
MAX_DAYS = 730


def parse_period(text: str) -> timedelta:
    """`8w` → 56 days; a bare number means days; 1 hour to 2 years."""
    match = re.fullmatch(r"(\d+)\s*([hdw]?)", text.strip().lower())
    if not match:
        raise ValueError(f"`{text}` is not a period: use e.g. 24h, 30d or 8w.")
    days = int(match.group(1)) * UNITS[match.group(2) or "d"]
    if not 1 / 24 <= days <= MAX_DAYS:
        raise ValueError(f"`{text}` is out of range: from 1h to {MAX_DAYS}d.")
    return timedelta(days=days)
