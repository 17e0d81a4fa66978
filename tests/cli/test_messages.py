"""Messages that tell the truth: where the project is, and which indicator id a near miss meant."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import run_cli
from octracker.cli import main


@pytest.mark.parametrize("command", [["status"], ["alerts"], ["refresh"], ["sql", "SELECT 1"], ["report"]])
def test_outside_a_project_says_so_and_how_to_point_at_one(tmp_path, command):
    result = CliRunner().invoke(main, ["--project", str(tmp_path), *command], env={"OCTRACKER_WAREHOUSE": ""})
    assert result.exit_code == 2
    assert f"Error: {tmp_path} is not an octracker project" in result.output
    assert "--project DIR" in result.output
    assert "refresh` first" not in result.output  # not the message of a project that has not run yet


def test_help_works_outside_a_project(tmp_path):
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "alerts", "--help"])
    assert result.exit_code == 0 and "--long" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["chart", "oci.cocain_trade", "--out", "x.svg"],
        ["chart", "cocaine trad", "--out", "x.svg"],
        ["evidence", "--indicator", "oci.cocain_trade", "--geo", "BE"],
    ],
)
def test_a_near_miss_indicator_suggests_the_right_id(refreshed, args):
    result = run_cli(refreshed, *args)
    assert result.exit_code == 2
    assert "did you mean 'oci.cocaine_trade'" in result.output


def test_sql_with_no_rows_for_a_misspelt_indicator_names_the_right_one(refreshed):
    result = run_cli(refreshed, "sql", "SELECT * FROM series WHERE indicator_id = 'oci.criminal_market'")
    assert result.exit_code == 0
    assert "No rows; unknown indicator 'oci.criminal_market'; did you mean 'oci.criminal_markets'?" in result.output
    found = run_cli(refreshed, "sql", "SELECT * FROM series WHERE indicator_id = 'oci.criminal_markets'")
    assert "did you mean" not in found.output


def test_evidence_for_a_near_miss_names_the_id_and_a_place_with_no_value_is_no_match(refreshed):
    result = run_cli(refreshed, "evidence", "--indicator", "homicide_rate", "--geo", "BE")
    assert result.exit_code == 2
    assert "unknown indicator 'homicide_rate'; did you mean 'homicide_rate_per_100k'?" in result.output
    found = run_cli(refreshed, "evidence", "--indicator", "homicide_rate_per_100k", "--geo", "BE", "--period", "2023")
    assert found.exit_code == 0 and "homicide_rate_per_100k  BE  2023  1.38" in found.output
    # A known id with no value for the place asked is an empty answer, not a misspelling.
    nothing = run_cli(refreshed, "evidence", "--indicator", "homicide_rate_per_100k", "--geo", "XX")
    assert nothing.exit_code == 1 and "No current value matches." in nothing.output
    assert "did you mean" not in nothing.output


def test_alerts_on_a_warehouse_without_the_alert_views_says_to_refresh(without_alert_views):
    from octracker.load.pipeline import refresh

    refresh(without_alert_views)
    for args in (["alerts"], ["alerts", "--all"], ["alerts", "--format", "json"]):
        result = run_cli(without_alert_views, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "has no trend_alerts view yet; run `octracker refresh` first" in result.output, args
