"""Cron schedules as pipeline specs write them: 5-field crontab expressions read as UTC triggers."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import TYPE_CHECKING

from octracker.errors import SpecError

if TYPE_CHECKING:  # APScheduler loads asyncio: imported where a trigger is made, not by `status`
    from apscheduler.triggers.base import BaseTrigger
    from apscheduler.triggers.cron import CronTrigger

UTC = dt.UTC

# crontab counts weekdays from Sunday = 0 (and 7); APScheduler 3 from Monday = 0. Names mean the same in both.
_CRONTAB_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def crontab_trigger(cron: str, where: str = "schedule") -> CronTrigger:
    """A UTC trigger from a 5-field crontab expression, with crontab's weekday numbers (0 or 7 = Sunday)."""
    fields = cron.split()
    if len(fields) != 5:
        raise SpecError(
            f"{where} {cron!r} must have 5 crontab fields (minute hour day month weekday), "
            'e.g. "0 5 * * 1" for Mondays at 05:00 UTC'
        )
    from apscheduler.triggers.cron import CronTrigger

    try:
        weekday = _crontab_weekdays(fields[4])
        return CronTrigger(
            minute=fields[0], hour=fields[1], day=fields[2], month=fields[3], day_of_week=weekday, timezone=UTC
        )
    except ValueError as exc:
        raise SpecError(f"{where} {cron!r} is not a valid crontab expression ({exc})") from None


def _crontab_weekdays(expr: str) -> str:
    """crontab's weekday field as explicit day names (numbers, ranges and steps expanded)."""
    if expr == "*" or not any(ch.isdigit() for ch in expr.replace("*/", "")) and "/" not in expr:
        return expr
    days: list[str] = []
    for item in expr.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _weekday_number(first_text), _weekday_number(last_text)
        else:
            first = _weekday_number(base)
            last = 6 if step_text else first
        if not 0 <= first <= last <= 7 or step < 1:
            raise ValueError(f"weekday {item!r} out of 0-7")
        days += [_CRONTAB_WEEKDAYS[d] for d in range(first, last + 1, step)]
    return ",".join(dict.fromkeys(days))


def _weekday_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    names = _CRONTAB_WEEKDAYS[:7]
    if text.lower() not in names:
        raise ValueError(f"unknown weekday {text!r}")
    return names.index(text.lower())


def previous_fire_time(trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
    """The trigger's last fire time at or before `now` (None if it never fired in the last five years)."""
    for days in (1 / 24, 1, 8, 32, 367, 5 * 366):
        start = now - dt.timedelta(days=days)
        fire = trigger.get_next_fire_time(None, start)
        if fire is None or fire > now:
            continue
        while True:
            following = trigger.get_next_fire_time(fire, fire)
            if following is None or following > now:
                return fire
            fire = following
    return None


#: Each crontab field's range (minute, hour, day, month, weekday with 0 and 7 for Sunday).
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_PLAIN_ITEM = re.compile(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?")
#: Years after which the calendar repeats itself, weekdays included: no match in them means none ever.
_CALENDAR_CYCLE = 400


def next_fire_time(cron: str, now: dt.datetime, where: str = "schedule") -> dt.datetime | None:
    """When the crontab line fires next at or after `now` (UTC), as the scheduler's trigger fires it.

    A plain line (numbers, ranges, steps, lists) is read here, as APScheduler reads it: every field must match
    (a day and a weekday both given means both), to the minute. Anything else (day or month names, an
    APScheduler extension, a mistake) goes to the trigger itself, which says what is wrong. Reading plain lines
    here keeps APScheduler (and asyncio with it) out of `octracker status`.
    """
    allowed = _plain_fields(cron)
    if allowed is None:
        return crontab_trigger(cron, where).get_next_fire_time(None, now)
    minutes, hours, days, months, weekdays = allowed
    now = now.astimezone(UTC)
    start = now.replace(second=0, microsecond=0)
    if start < now:
        start += dt.timedelta(minutes=1)
    day = start.date()
    for year in range(day.year, day.year + _CALENDAR_CYCLE + 1):
        for month in sorted(m for m in months if (year, m) >= (day.year, day.month)):
            last = calendar.monthrange(year, month)[1]
            first = day.day if (year, month) == (day.year, day.month) else 1
            for d in sorted(x for x in days if first <= x <= last):
                date = dt.date(year, month, d)
                if (date.weekday() + 1) % 7 not in weekdays:
                    continue
                times = [(h, m) for h in sorted(hours) for m in sorted(minutes)]
                if date == day:
                    times = [t for t in times if t >= (start.hour, start.minute)]
                if times:
                    return dt.datetime(year, month, d, *times[0], tzinfo=UTC)
    return None


def _plain_fields(cron: str) -> list[set[int]] | None:
    """The values each field allows, for a line of numbers, ranges, steps and lists only; None otherwise."""
    fields = cron.split()
    if len(fields) != 5:
        return None
    allowed = []
    for text, (low, high) in zip(fields, _RANGES):
        values: set[int] = set()
        for item in text.split(","):
            found = _PLAIN_ITEM.fullmatch(item)
            if found is None:
                return None
            base, step_text = found.groups()
            step = int(step_text) if step_text else 1
            # A weekday list open at its end ends on Saturday (6), as _crontab_weekdays reads it.
            open_end = 6 if (low, high) == _RANGES[4] else high
            if base == "*":
                first, last = low, open_end
            else:
                first_text, _, last_text = base.partition("-")
                first = int(first_text)
                last = int(last_text) if last_text else (open_end if step_text else first)
            if not low <= first <= last <= high or step < 1:
                return None
            # APScheduler refuses a step longer than what it steps over (the range, or its field's whole span);
            # a range written to end on 0 counts as open, as it reads it. crontab's weekdays are checked above.
            if step_text and (low, high) != _RANGES[4]:
                span = high - low if base == "*" else (int(last_text) if last_text and int(last_text) else high) - first
                if step > span:
                    return None
            values.update(range(first, last + 1, step))
        allowed.append(values)
    allowed[4] = {d % 7 for d in allowed[4]}  # 7 is Sunday too
    return allowed
