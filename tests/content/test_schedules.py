"""`octracker status` reads plain crontab lines itself, so that it need not load APScheduler (and asyncio);
the next run it shows must be the one the scheduler's trigger fires, for every such line and moment."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from octracker.content.schedules import _plain_fields, crontab_trigger, next_fire_time
from octracker.errors import SpecError

RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
LONGEST_MONTH = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}


@st.composite
def field(draw, low: int, high: int) -> str:
    """One crontab field: *, */n, a, a-b, a-b/n or a/n, or a list of them."""

    def item() -> str:
        kind = draw(st.sampled_from(["*", "*/n", "a", "a-b", "a-b/n", "a/n"]))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        n = draw(st.integers(1, max(1, high - low)))
        return {"*": "*", "*/n": f"*/{n}", "a": f"{a}", "a-b": f"{a}-{b}", "a-b/n": f"{a}-{b}/{n}", "a/n": f"{a}/{n}"}[
            kind
        ]

    return ",".join(item() for _ in range(draw(st.integers(1, 3))))


lines = st.tuples(*(field(low, high) for low, high in RANGES)).map(" ".join)
moments = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(dt.UTC)
)


@settings(max_examples=300, deadline=None)
@given(lines, moments)
def test_a_plain_line_fires_when_the_schedulers_trigger_fires(cron, now):
    allowed = _plain_fields(cron)
    if allowed is None:  # a step longer than its range ("1-1/1"), a weekday list from 7 on ("7/2"): refused
        with pytest.raises(SpecError):
            crontab_trigger(cron)
        return
    # A day no chosen month has (31 February) never fires; the trigger would search to the year 9999 for it.
    assume(any(d <= LONGEST_MONTH.get(m, 31) for m in allowed[3] for d in allowed[2]))
    assert next_fire_time(cron, now) == crontab_trigger(cron).get_next_fire_time(None, now), (cron, now)


@pytest.mark.parametrize(
    "cron, now, expected",
    [
        # On the minute itself it fires then; a second later, the next time.
        ("0 5 * * *", dt.datetime(2026, 12, 3, 5, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 3, 5, 0, tzinfo=dt.UTC)),
        ("0 5 * * *", dt.datetime(2026, 12, 3, 5, 0, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)),
        # Mondays at 05:00 (crontab counts Sunday as 0 and 7).
        ("0 5 * * 1", dt.datetime(2026, 12, 3, 6, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)),
        ("0 5 * * 7", dt.datetime(2026, 12, 3, 6, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 6, 5, 0, tzinfo=dt.UTC)),
        # The 31st skips the months without one; 29 February waits for a leap year.
        ("0 0 31 * *", dt.datetime(2026, 4, 1, tzinfo=dt.UTC), dt.datetime(2026, 5, 31, tzinfo=dt.UTC)),
        ("0 0 29 2 *", dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2028, 2, 29, tzinfo=dt.UTC)),
        # A day that no month of the line has never comes.
        ("0 0 31 2 *", dt.datetime(2026, 3, 1, tzinfo=dt.UTC), None),
    ],
)
def test_next_runs_a_reader_can_check_by_hand(cron, now, expected):
    assert next_fire_time(cron, now) == expected


@pytest.mark.parametrize("cron", ["0 5 * * mon", "0 5 L * *", "0 5 * jan *", "0 25 * * *", "5-1 * * * *"])
def test_names_extensions_and_mistakes_are_read_by_the_trigger_itself(cron):
    assert _plain_fields(cron) is None
    now = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    try:
        expected = crontab_trigger(cron).get_next_fire_time(None, now)
    except SpecError as exc:
        with pytest.raises(SpecError, match=re.escape(str(exc))):
            next_fire_time(cron, now)
    else:
        assert next_fire_time(cron, now) == expected
