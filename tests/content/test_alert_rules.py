"""Alert rules kept as data: the shipped file, refusals of bad entries, and rules changed without code."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from octracker.content.alert_rules import load_alert_rules
from octracker.errors import SpecError
from octracker.load.pipeline import refresh

REPO = Path(__file__).resolve().parents[2]


def test_shipped_rules_cover_every_check_with_tiers():
    rules = load_alert_rules(REPO / "schemas" / "alert_rules.toml")
    assert {r.check_name for r in rules} == {
        "yoy_change",
        "edition_change",
        "record",
        "source_conflict",
        "stale_series",
        "outlier",
        "revision",
    }
    index_move = sorted((r.threshold, r.severity) for r in rules if r.rule == "index_move")
    assert index_move == [(0.5, "warning"), (1.0, "critical")]
    stale = {r.frequency: r.threshold for r in rules if r.rule == "stale_series"}
    assert stale == {"monthly": 2, "quarterly": 5, "annual": 18, "biennial": 30}


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ('check = "nonsense"', "check must be one of"),
        ('movement = "sideways"', "movement must be one of"),
        ('colour = "red"', "unknown field(s) colour"),
        ('tier = [{ severity = "urgent", threshold = 1 }]', "tier severity must be one of"),
        ('tier = [{ severity = "info", threshold = "high" }]', "needs a numeric threshold"),
        ("tier = []", "tier must list at least one"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule(tmp_path, entry, complaint):
    fields = {
        "rule": '"r"',
        "check": '"yoy_change"',
        "movement": '"bad"',
        "description": '"d"',
        "action": '"a"',
        "tier": '[{ severity = "info", threshold = 1 }]',
    }
    key = entry.split(" = ")[0]
    fields[key] = entry.split(" = ", 1)[1]
    path = tmp_path / "alert_rules.toml"
    path.write_text("[[rule]]\n" + "\n".join(f"{k} = {v}" for k, v in fields.items()) + "\n")
    with pytest.raises(SpecError, match=r"rule #1 \(r\)") as caught:
        load_alert_rules(path)
    assert complaint in str(caught.value)


def test_a_missing_rules_file_means_no_alerts(tmp_path):
    assert load_alert_rules(tmp_path / "alert_rules.toml") == []


@pytest.mark.slow
def test_changing_a_threshold_in_the_file_changes_the_alerts_with_no_code_change(scratch_project):
    path = scratch_project.schemas_dir / "alert_rules.toml"
    refresh(scratch_project)
    published = str(scratch_project.published_path)
    before = (
        duckdb.connect(published, read_only=True)
        .execute("SELECT severity, COUNT(*) FROM trend_alerts WHERE rule = 'index_move' GROUP BY ALL ORDER BY 1")
        .fetchall()
    )
    assert before == [("critical", 5), ("warning", 14)]
    path.write_text(
        path.read_text().replace(
            '{ severity = "warning", threshold = 0.5 }', '{ severity = "warning", threshold = 0.75 }'
        )
    )
    refresh(scratch_project)
    after = (
        duckdb.connect(published, read_only=True)
        .execute("SELECT severity, COUNT(*) FROM trend_alerts WHERE rule = 'index_move' GROUP BY ALL ORDER BY 1")
        .fetchall()
    )
    assert after == [("critical", 5)]


def test_fingerprint_is_the_hash_of_rule_indicator_geo_and_period(settings):
    refresh(settings)
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = con.execute("SELECT fingerprint, rule, indicator_id, geo, period FROM trend_alerts").fetchall()
    assert rows
    for fingerprint, *parts in rows:
        assert fingerprint == hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    assert len({r[0] for r in rows}) == len(rows)
