"""Publishers' time codes (Eurostat/SDMX `2023`, `2023Q2`, `2023-07`, `2023M07`; CBS `2023JJ00`, `2023KW02`,
`2023MM07`) as one period: a canonical code, its first and last day, and the year it belongs to."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from typing import NamedTuple


class PublisherPeriod(NamedTuple):
    """A period read from a time code. `code` is canonical: `2023`, `2023S1`, `2023Q2`, `2023-07`, `2023W02`,
    `2023-07-15`, whichever publisher wrote it."""

    code: str
    start: dt.date
    end: dt.date
    year: int


_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("annual", re.compile(r"(\d{4})(?:-?A1?|JJ00)?")),
    ("semester", re.compile(r"(\d{4})-?(?:S|HJ0?)([12])")),
    ("quarter", re.compile(r"(\d{4})-?(?:Q|KW0?)([1-4])")),
    ("month", re.compile(r"(\d{4})(?:-|M|MM)(\d{2})")),
    ("week", re.compile(r"(\d{4})-?W(\d{2})")),
    ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})")),
]


@functools.lru_cache(maxsize=4096)  # a table repeats its few periods over many rows
def parse_publisher_period(text: str) -> PublisherPeriod:
    """The period a publisher's time code names; ValueError for a code that is none of the known forms."""
    code = text.strip().upper()
    for kind, pattern in _PATTERNS:
        found = pattern.fullmatch(code)
        if found:
            return _period(kind, *(int(g) for g in found.groups()))
    raise ValueError(
        f"time code {text!r} is not a year, semester, quarter, month, week or day "
        "(2023, 2023S1, 2023Q2, 2023-07, 2023M07, 2023W02, 2023-07-15, 2023JJ00, 2023KW02, 2023MM07)"
    )


def period_code(kind: str, year: int, number: int = 1, day: int = 1) -> str:
    """The canonical code of a period (`annual`, `semester`, `quarter`, `month`, `week` or `day`)."""
    return {
        "annual": f"{year:04d}",
        "semester": f"{year:04d}S{number}",
        "quarter": f"{year:04d}Q{number}",
        "month": f"{year:04d}-{number:02d}",
        "week": f"{year:04d}W{number:02d}",
        "day": f"{year:04d}-{number:02d}-{day:02d}",
    }[kind]


def _period(kind: str, year: int, number: int = 1, day: int = 1) -> PublisherPeriod:
    code = period_code(kind, year, number, day)
    try:
        if kind == "annual":
            start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        elif kind in ("semester", "quarter", "month"):
            months = {"semester": 6, "quarter": 3, "month": 1}[kind]
            first = (number - 1) * months + 1
            last = first + months - 1
            if not 1 <= last <= 12:
                raise ValueError
            start = dt.date(year, first, 1)
            end = dt.date(year, last, calendar.monthrange(year, last)[1])
        elif kind == "week":
            start = dt.date.fromisocalendar(year, number, 1)
            end = dt.date.fromisocalendar(year, number, 7)
        else:
            start = end = dt.date(year, number, day)
    except ValueError:
        raise ValueError(f"time code {code!r} names a period that does not exist") from None
    # An ISO week belongs to the year whose number it carries, even when it starts in December.
    return PublisherPeriod(code, start, end, year)
