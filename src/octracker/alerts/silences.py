"""Silences: an alert muted for a while, with who muted it and why (`octracker alerts mute` / `unmute`).

A silence is a row of `alert_silences`; it holds until its `ends_at`, or until someone lifts it. While it
holds, the alert is left out of `trend_alerts` (so out of listings, metrics and deliveries) and shows in
`muted_alerts`; once it ends, the alert is back as it is then. Rows are never deleted.
"""

from __future__ import annotations

import datetime as dt
import getpass
import re
import secrets
from dataclasses import dataclass

import duckdb

from octracker.errors import UsageError
from octracker.store.writers import write_transaction

_DURATION = re.compile(r"([0-9]+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: A silence longer than this is a wish to drop the alert: change the rule instead.
MAX_SILENCE = dt.timedelta(days=366)
#: The shortest fingerprint prefix accepted for one alert.
MIN_PREFIX = 8


@dataclass(frozen=True)
class Silence:
    silence_id: str
    fingerprint: str
    reason: str
    created_by: str
    created_at: dt.datetime
    ends_at: dt.datetime


def parse_duration(text: str) -> dt.timedelta:
    """`30d`, `12h`, `90m`, `2w`, or several together (`1d12h`); refused with the accepted forms."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact.replace(" ", ""):
        raise UsageError(
            f"--for {text!r}: give a duration such as 30d, 12h, 90m or 1d12h "
            "(s, m, h, d, w: seconds, minutes, hours, days, weeks)"
        )
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError(f"--for {text!r}: a silence must last longer than zero")
    if seconds > MAX_SILENCE.total_seconds():
        raise UsageError(
            f"--for {text!r}: a silence may last at most {MAX_SILENCE.days} days; "
            "to stop an alert for good, change its rule in schemas/alert_rules.toml"
        )
    return dt.timedelta(seconds=seconds)


def current_user() -> str:
    """The account running the command, recorded as who muted or unmuted."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def resolve_fingerprint(con: duckdb.DuckDBPyConnection, given: str) -> str:
    """The one fingerprint of a raised alert that `given` is (or starts), muted or not; refused otherwise."""
    text = given.strip().lower()
    if len(text) < MIN_PREFIX or not re.fullmatch(r"[0-9a-f]+", text):
        raise UsageError(
            f"{given!r} is not an alert fingerprint: give its 32 hex digits (or the first "
            f"{MIN_PREFIX} or more), as `octracker alerts --all --format json` shows them"
        )
    found = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT fingerprint FROM all_trend_alerts WHERE starts_with(fingerprint, ?) ORDER BY 1", [text]
        ).fetchall()
    ]
    if len(found) > 1:
        raise UsageError(
            f"{given!r} starts {len(found)} alerts' fingerprints ({', '.join(found[:5])}); give more of the digits"
        )
    if not found:
        raise UsageError(
            f"no alert has fingerprint {given!r} now; `octracker alerts --all --format json` lists "
            "every open and muted alert with its fingerprint"
        )
    return found[0]


def mute_alert(
    con: duckdb.DuckDBPyConnection,
    fingerprint: str,
    *,
    duration: dt.timedelta,
    reason: str,
    who: str,
    now: dt.datetime,
) -> Silence:
    """Silence one raised alert from `now` for `duration`; a silence it already had is lifted (this one replaces it)."""
    reason = reason.strip()
    if not reason:
        raise UsageError("--reason must say why the alert is muted (it is kept with the silence)")

    def mute() -> Silence:
        full = resolve_fingerprint(con, fingerprint)
        lift(con, full, who=who, now=now)
        silence = Silence(
            silence_id="sil_" + secrets.token_hex(8),
            fingerprint=full,
            reason=reason,
            created_by=who,
            created_at=now,
            ends_at=now + duration,
        )
        con.execute(
            "INSERT INTO alert_silences (silence_id, fingerprint, reason, created_by, created_at, ends_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [silence.silence_id, full, reason, who, now, silence.ends_at],
        )
        return silence

    return write_transaction(con, mute, what="alert silence")


def unmute_alert(con: duckdb.DuckDBPyConnection, fingerprint: str, *, who: str, now: dt.datetime) -> str:
    """Lift the silence an alert has now; refused when it has none. Returns the full fingerprint."""

    def unmute() -> str:
        text = fingerprint.strip().lower()
        held = "SELECT DISTINCT fingerprint FROM alert_silences WHERE starts_with(fingerprint, ?) AND lifted_at IS NULL"
        full = []
        if len(text) >= MIN_PREFIX:
            full = [r[0] for r in con.execute(held + " AND ends_at > ?", [text, now]).fetchall()]
        if len(full) != 1:
            raise UsageError(
                f"no muted alert has fingerprint {fingerprint!r} (or it starts several); "
                "`octracker alerts --all` lists the muted ones"
            )
        lift(con, full[0], who=who, now=now)
        return full[0]

    return write_transaction(con, unmute, what="alert silence")


def lift(con: duckdb.DuckDBPyConnection, fingerprint: str, *, who: str, now: dt.datetime) -> None:
    """End the silences of one alert that still hold at `now`; the caller owns the transaction."""
    con.execute(
        "UPDATE alert_silences SET lifted_at = ?, lifted_by = ? "
        "WHERE fingerprint = ? AND lifted_at IS NULL AND ends_at > ?",
        [now, who, fingerprint, now],
    )


def muted_fingerprints(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The fingerprints whose silence holds now (as the `active_silences` view judges it)."""
    return {r[0] for r in con.execute("SELECT fingerprint FROM active_silences").fetchall()}
