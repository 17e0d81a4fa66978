"""End to end: `octracker refresh` over the bundled documents on a tmp warehouse, then `octracker alerts`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from octracker.cli import main
from webhook_receiver import Reply, receiver  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]


def run(warehouse: Path, *args: str, env: dict | None = None):
    result = CliRunner().invoke(
        main,
        ["--project", str(REPO), "--warehouse", str(warehouse), *args],
        env={"OCTRACKER_WEBHOOK_URL": "", "OCTRACKER_WEBHOOK_SECRET": "", **(env or {})},
    )
    return result


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "octracker.duckdb"
    result = run(path, "refresh")
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def alerts(warehouse: Path) -> list[dict]:
    result = run(warehouse, "alerts", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def by_key(alerts: list[dict]) -> dict[tuple[str, str, str], dict]:
    return {(a["rule"], a["indicator_id"], a["geo"]): a for a in alerts}


@pytest.mark.parametrize(
    ("indicator", "geo"),
    [
        ("oci.trade_in_counterfeit_goods", "BE"),
        ("oci.illicit_trade_in_excisable_goods", "BE"),
        ("oci.foreign_actors", "BE"),
        ("oci.foreign_actors", "NL"),
        ("oci.financial_crimes", "NL"),
    ],
)
def test_index_moves_of_one_point_are_critical_alerts(alerts, indicator, geo):
    alert = by_key(alerts)[("index_move", indicator, geo)]
    assert (alert["severity"], alert["year"], alert["prev_year"], alert["change"]) == ("critical", 2025, 2023, 1.0)
    assert "rose 1.00 points" in alert["message"] and "gitoc-oci-2025-nl-be" in alert["message"]


@pytest.mark.parametrize(
    ("indicator", "geo"),
    [
        ("oci.government_transparency_and_accountability", "BE"),
        ("oci.law_enforcement", "BE"),
        ("oci.judicial_system_and_detention", "NL"),
        ("oci.law_enforcement", "NL"),
    ],
)
def test_resilience_falls_of_half_a_point_are_alerts(alerts, indicator, geo):
    alert = by_key(alerts)[("resilience_falling", indicator, geo)]
    assert (alert["severity"], alert["change"]) == ("warning", -0.5)
    assert "fell 0.50 points" in alert["message"]


def test_no_alert_says_shootings_fell(alerts):
    shootings = [a for a in alerts if a["indicator_id"] in ("shootings", "shooting_deaths")]
    assert not [a for a in shootings if (a["change"] or 0) < 0 or " down " in a["message"]]


def test_only_bad_direction_moves_alert(alerts):
    # International cooperation rose 0.50 in BE and NL (good news); cyber-dependent crimes fell 0.50 in NL.
    keys = by_key(alerts)
    assert not [
        k for k in keys if k[1] in ("oci.international_cooperation", "oci.cyber_dependent_crimes") and k[2] == "NL"
    ]
    assert all(a["change"] > 0 for a in alerts if a["rule"] == "index_move")


def test_a_second_refresh_keeps_the_same_alerts(warehouse, alerts):
    assert run(warehouse, "-q", "refresh").exit_code == 0
    again = json.loads(run(warehouse, "alerts", "--format", "json").output)
    assert [a["fingerprint"] for a in again] == [a["fingerprint"] for a in alerts]


def test_refresh_says_how_many_alerts_are_open(tmp_path, alerts):
    result = run(tmp_path / "o.duckdb", "refresh")
    assert f"Open trend alerts: {len(alerts)} " in result.output
    assert len(alerts) >= 24  # the index moves and resilience falls alone


def test_summary_shows_changes_and_alerts(warehouse):
    result = run(warehouse, "summary")
    assert result.exit_code == 0, result.output
    assert "Largest moves between index editions in BE, EU, NL (edition_changes)" in result.output
    assert "Open trend alerts (trend_alerts)" in result.output


def test_alerts_table_lists_most_severe_first(warehouse):
    result = run(warehouse, "alerts")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    first = {level: next(n for n, line in enumerate(lines) if level in line) for level in ("critical", "warning")}
    assert first["critical"] < first["warning"]


def test_send_delivers_then_has_nothing_to_send(warehouse, alerts, tmp_path, receiver):
    receiver.play(*[Reply(200)] * len(alerts))
    env = {"OCTRACKER_WEBHOOK_URL": receiver.url("/hook/secret-path"), "OCTRACKER_WEBHOOK_SECRET": "s3cret"}
    copy = tmp_path / "o.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    first = run(copy, "alerts", "send", env=env)
    assert first.exit_code == 0, first.output
    assert f"Alert events: {len(alerts)} opened, 0 changed, 0 resolved." in first.output
    assert f"Deliveries: {len(alerts)} delivered, 0 rejected, 0 pending." in first.output
    second = run(copy, "alerts", "send", env=env)
    assert (second.exit_code, len(receiver.requests)) == (0, len(alerts))
    assert "Nothing to send" in second.output


def test_send_reports_a_permanent_refusal_with_exit_1_and_no_url(warehouse, tmp_path, receiver):
    # Every other alert is taken: exit 1 is the refusal's alone (with the script run out, the rest answered 500 and
    # were retried after real waits, over half a minute).
    receiver.play(Reply(400), *[Reply(200)] * 200)
    env = {"OCTRACKER_WEBHOOK_URL": receiver.url("/hook/secret-path"), "OCTRACKER_WEBHOOK_SECRET": "s3cret"}
    copy = tmp_path / "o.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    result = run(copy, "alerts", "send", env=env)
    assert result.exit_code == 1
    assert "status 400" in result.output and "secret-path" not in result.output


def test_send_without_a_webhook_is_bad_usage(warehouse):
    result = run(warehouse, "alerts", "send")
    assert result.exit_code == 2
    assert "OCTRACKER_WEBHOOK_URL" in result.output


def test_summary_gives_one_line_per_family_and_the_changes_in_the_places_followed(warehouse):
    output = run(warehouse, "summary").output
    counted = json.loads(
        run(
            warehouse,
            "sql",
            "SELECT split_part(indicator_id, '.', 1) AS family, COUNT(DISTINCT geo) AS geos, "
            "BOOL_OR(geo = 'BE') AND BOOL_OR(geo = 'NL') AS be_and_nl FROM series GROUP BY ALL",
            "--format",
            "json",
        ).output
    )
    lines = output.splitlines()
    series = lines[: next(n for n, x in enumerate(lines) if x.startswith("Largest year-over-year changes"))]
    for family in counted:
        [line] = [x for x in series if x.strip("│ ").split(" ")[0] == family["family"]]
        if family["geos"] > 4:
            expected = f"{family['geos']}, incl. BE, NL" if family["be_and_nl"] else None
            assert expected is None or expected in line, line
    # The whole-world tables (the index workbook, UNODC) hold far more places than the summary lists.
    assert any(f["geos"] > 100 for f in counted) and len(lines) < 80
    yoy = lines[lines.index(next(x for x in lines if x.startswith("showing 10 of"))) + 1]
    assert "starts_with(geo, 'BE') OR starts_with(geo, 'EU') OR starts_with(geo, 'NL')" in yoy
    shown = json.loads(
        run(warehouse, "sql", yoy.strip().removeprefix('octracker sql "').removesuffix('"'), "--format", "json").output
    )
    assert shown and all(r["geo"][:2] in ("BE", "EU", "NL") for r in shown)
