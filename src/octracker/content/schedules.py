"""Cron schedules as pipeline specs write them: 5-field crontab expressions read as UTC triggers."""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from octracker.errors import SpecError

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
