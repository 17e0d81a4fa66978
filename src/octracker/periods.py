"""Periods as specs and tables write them: `YYYY`, `YYYY-MM-DD/YYYY-MM-DD` or `unknown`."""

from __future__ import annotations

import datetime as dt
import re


def parse_period(period: object) -> tuple[dt.date | None, dt.date | None, int | None]:
    """Start, end and year of a declared period: `YYYY`, `YYYY-MM-DD/YYYY-MM-DD` or `unknown`."""
    text = str(period).strip()
    if text == "unknown":
        return None, None, None
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return dt.date(year, 1, 1), dt.date(year, 12, 31), year
    found = re.fullmatch(r"(\d{4}-\d{2}-\d{2})/(\d{4}-\d{2}-\d{2})", text)
    if found:
        try:
            start, end = dt.date.fromisoformat(found[1]), dt.date.fromisoformat(found[2])
        except ValueError:
            raise ValueError(f"period {text!r} holds a date that does not exist") from None
        if end < start:
            raise ValueError(f"period {text!r} ends before it starts")
        return start, end, end.year
    raise ValueError(f"period {text!r} is not YYYY, YYYY-MM-DD/YYYY-MM-DD or unknown")
