"""Trend alert rules kept as data (`schemas/alert_rules.toml`), checked and copied into the `alert_rules` table."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from octracker.errors import SpecError
from octracker.tomlfiles import load_toml

log = logging.getLogger("octracker.content.alert_rules")

CHECKS = ("yoy_change", "edition_change", "record", "source_conflict", "stale_series", "outlier", "revision")
MOVEMENTS = ("bad", "up", "down", "either")
SEVERITIES = ("info", "warning", "critical")
RULE_FIELDS = {
    "rule",
    "check",
    "movement",
    "frequency",
    "pillar",
    "except_pillar",
    "min_history",
    "description",
    "action",
    "tier",
}


@dataclass(frozen=True)
class AlertRule:
    """One severity tier of a rule: a row of the `alert_rules` table (columns in table order)."""

    rule: str
    check_name: str
    severity: str
    threshold: float
    movement: str
    frequency: str | None
    pillar: str | None
    except_pillar: str | None
    min_history: int | None
    description: str
    action: str


def load_alert_rules(path: Path) -> list[AlertRule]:
    """Every tier of every rule in the file; a missing file means no rules (and says so in the log)."""
    if not path.exists():
        log.warning("%s: no alert rules file; no trend alerts will be raised", path)
        return []
    raw = load_toml(path)
    rows: list[AlertRule] = []
    for n, entry in enumerate(raw.get("rule", []), start=1):
        rows += rule_tiers(entry, where=f"{path}: rule #{n} ({entry.get('rule', 'no name')})")
    return rows


def rule_tiers(entry: dict, *, where: str) -> list[AlertRule]:
    """The table rows of one `[[rule]]` entry, refused with the field at fault."""
    missing = [k for k in ("rule", "check", "movement", "description", "action", "tier") if k not in entry]
    if missing:
        raise SpecError(f"{where}: missing {', '.join(missing)}")
    unknown = set(entry) - RULE_FIELDS
    if unknown:
        raise SpecError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(RULE_FIELDS))}"
        )
    if entry["check"] not in CHECKS:
        raise SpecError(f"{where}: check must be one of {', '.join(CHECKS)}")
    if entry["movement"] not in MOVEMENTS:
        raise SpecError(f"{where}: movement must be one of {', '.join(MOVEMENTS)}")
    if not isinstance(entry["tier"], list) or not entry["tier"]:
        raise SpecError(f"{where}: tier must list at least one {{ severity = ..., threshold = ... }}")
    tiers = []
    for tier in entry["tier"]:
        if tier.get("severity") not in SEVERITIES:
            raise SpecError(
                f"{where}: tier severity must be one of {', '.join(SEVERITIES)}, got {tier.get('severity')!r}"
            )
        threshold = tier.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise SpecError(f"{where}: tier {tier['severity']} needs a numeric threshold")
        tiers.append(
            AlertRule(
                rule=entry["rule"],
                check_name=entry["check"],
                severity=tier["severity"],
                threshold=float(threshold),
                movement=entry["movement"],
                frequency=entry.get("frequency"),
                pillar=entry.get("pillar"),
                except_pillar=entry.get("except_pillar"),
                min_history=entry.get("min_history"),
                description=entry["description"],
                action=entry["action"],
            )
        )
    return tiers


#: A place alerts follow: a geo id or the start of one (BE covers BE-BRU and BEANR).
PLACE_ID = re.compile(r"^[A-Z]{2}[A-Z0-9_+-]*$")


def load_alert_places(path: Path) -> tuple[str, ...]:
    """The places alerts are raised for (`places` in the rules file): geo ids or their starts; () means every place."""
    if not path.exists():
        return ()
    places = load_toml(path).get("places", [])
    if not isinstance(places, list) or not all(isinstance(p, str) and PLACE_ID.match(p) for p in places):
        raise SpecError(f'{path}: places must be a list of geo ids such as "BE", "NL" or "EU", not {places!r}')
    return tuple(dict.fromkeys(places))
