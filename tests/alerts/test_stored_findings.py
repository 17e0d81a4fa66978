"""Open alerts are read from the findings the writer stored with the data (`stored_alert_findings`), so that
`alerts` and `status` do not compute every check; they must be the alerts the checks give when computed now, and
follow every change of the data or of the places followed from the commit that makes it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb

from conftest import REPO, copy_project_content
from octracker.load.pipeline import refresh
from octracker.store.settings import Settings, build_settings
from octracker.store.warehouse import open_reader

ALL_TREND_ALERTS = REPO / "warehouse" / "views" / "60_all_trend_alerts.sql"


def alerts_read_and_computed(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple], list[tuple]]:
    """Every alert the rules raise (every column) as `all_trend_alerts` reads them from the stored findings, and as
    the same view gives them over `alert_findings`, which computes every check now."""
    view = ALL_TREND_ALERTS.read_text(encoding="utf-8")
    computed = view.replace("VIEW all_trend_alerts", "TEMP VIEW computed_trend_alerts").replace(
        "FROM stored_alert_findings AS f", "FROM alert_findings AS f"
    )
    assert computed.count("alert_findings AS f") == 1 and "computed_trend_alerts" in computed
    con.execute(computed)
    read = con.execute("SELECT * FROM all_trend_alerts ORDER BY fingerprint").fetchall()
    full = con.execute("SELECT * FROM computed_trend_alerts ORDER BY fingerprint").fetchall()
    return read, full


def published(settings: Settings) -> duckdb.DuckDBPyConnection:
    return open_reader(settings.read_target)


def test_the_stored_findings_are_what_the_checks_compute_on_the_bundled_data(refreshed):
    con = published(refreshed)
    try:
        stored_not_computed = con.execute(
            "SELECT COUNT(*) FROM (SELECT * FROM stored_alert_findings EXCEPT ALL SELECT * FROM alert_findings)"
        ).fetchone()
        computed_not_stored = con.execute(
            "SELECT COUNT(*) FROM (SELECT * FROM alert_findings EXCEPT ALL SELECT * FROM stored_alert_findings)"
        ).fetchone()
        read, full = alerts_read_and_computed(con)
        listed = con.execute("SELECT COUNT(*) FROM trend_alerts").fetchone()
    finally:
        con.close()
    assert (stored_not_computed, computed_not_stored) == ((0,), (0,))
    assert read == full
    assert read and listed == (len(read),)  # no silence in the bundled project


def refreshed_copy(refreshed: Settings, root: Path) -> Settings:
    """An editable copy of the project with a copy of the refreshed warehouse and of its published copy."""
    copy_project_content(root)
    settings = build_settings(project=root, warehouse=root / "warehouse" / "octracker.duckdb", environ={})
    shutil.copyfile(refreshed.warehouse, settings.warehouse)
    settings.published_path.parent.mkdir()
    shutil.copyfile(refreshed.published_path, settings.published_path)
    return settings


def open_geos(settings: Settings) -> set[str]:
    con = published(settings)
    try:
        read, full = alerts_read_and_computed(con)
        geos = {r[0] for r in con.execute("SELECT DISTINCT geo FROM trend_alerts").fetchall()}
    finally:
        con.close()
    assert read == full
    return geos


def test_alerts_follow_a_change_of_the_places_and_new_data_from_the_commit_that_makes_it(refreshed, tmp_path):
    settings = refreshed_copy(refreshed, tmp_path / "project")
    assert {"NL", "BEANR"} <= open_geos(settings)

    # The Netherlands no longer followed: the next write (an inbox run with nothing in it) stores the findings again.
    rules = settings.schemas_dir / "alert_rules.toml"
    rules.write_text(re.sub(r"(?m)^places = .*$", 'places = ["BE", "EU"]', rules.read_text()), encoding="utf-8")
    refresh(settings, ["inbox"])
    geos = open_geos(settings)
    assert "NL" not in geos and "BEANR" in geos

    # A year of cocaine seized at Antwerp far above 2024's: an alert about 2025, read right after the load.
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / "seizures.csv").write_text(
        "indicator,geo,period,value,unit\ncocaine_seized_tonnes,BEANR,2025,400,tonnes\n", encoding="utf-8"
    )
    (settings.inbox_dir / "seizures.csv.meta.toml").write_text(
        'title = "Port figures (test)"\npublisher = "Port (test)"\npublished = "2026-01-15"\n', encoding="utf-8"
    )
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error
    con = published(settings)
    try:
        yoy = con.execute(
            "SELECT year, value FROM trend_alerts WHERE rule = 'yoy_change' AND geo = 'BEANR' "
            "AND indicator_id = 'cocaine_seized_tonnes'"
        ).fetchall()
    finally:
        con.close()
    assert yoy == [(2025, 400.0)]
    assert "NL" not in open_geos(settings)
