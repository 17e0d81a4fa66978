"""When a pipeline runs next: its spec's crontab `schedule`, read as cron reads it, in UTC.

The scheduler (issue 5) owns running jobs; `status` only needs the next fire time of each schedule.
"""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.cron import CronTrigger

from octracker.errors import SpecError

#: crontab numbers weekdays from Sunday (0, and 7 again); APScheduler 3 from Monday. Names agree.
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def weekday_number(token: str) -> int:
    """A crontab weekday as written: 0-7 (0 and 7 are Sunday) or a three-letter name (0-6)."""
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token.lower() in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(token.lower())
    raise ValueError(f"weekday {token!r} is not 0-7 or sun..sat")


def weekdays_by_name(field: str) -> str:
    """A crontab weekday field rewritten with day names, which APScheduler reads the same way."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            # "5-7" is Friday to Sunday: 7 is Sunday again, at the end of the week.
            low, high = (weekday_number(t) for t in span.split("-", 1))
        else:
            low = high = weekday_number(span)
            if step:
                high = 6
        if high < low:
            raise ValueError(f"weekday range {span!r} runs backwards")
        days.update(d % 7 for d in range(low, high + 1, int(step or 1)))
    return ",".join(WEEKDAY_NAMES[d] for d in sorted(days))


def cron_trigger(schedule: str, where: str = "schedule") -> CronTrigger:
    """A UTC trigger for a 5-field crontab line (minute hour day-of-month month day-of-week)."""
    fields = schedule.split()
    if len(fields) != 5:
        raise SpecError(f"{where}: schedule {schedule!r} needs 5 crontab fields (minute hour day month weekday), "
                        "e.g. \"0 5 * * 1\" for Mondays 05:00 UTC")
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekdays_by_name(weekday),
                           timezone="UTC")
    except ValueError as exc:
        raise SpecError(f"{where}: schedule {schedule!r} is not a valid crontab line ({exc})") from None


def next_run(schedule: str | None, now: dt.datetime, where: str = "schedule") -> dt.datetime | None:
    """The next time (UTC, aware) a schedule fires after `now`; None without a schedule."""
    if not schedule:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return cron_trigger(schedule, where).get_next_fire_time(None, now)
