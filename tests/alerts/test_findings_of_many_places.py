"""A write that changes series in several places stores their findings again, and they are the findings the checks
compute now."""

from __future__ import annotations

import pytest

from analyst_fixtures import copy_refreshed
from octracker.load.pipeline import refresh
from octracker.store import findings
from octracker.store.warehouse import open_reader

ROWS = (
    "indicator,geo,period,value,unit\n"
    "cocaine_seized_tonnes,BEANR,2025,400,tonnes\n"
    "shootings,BE-BRU,2025,1,incidents\n"
    "murders_and_attempts,BE,2025,300,count\n"
)


# The series owed are computed alone by id, or with every series of their geos and indicators, by how many are owed:
# either way the findings stored are those computed now.
@pytest.mark.parametrize(("few", "share"), [(findings.FEW_SERIES, findings.FEW_SERIES_SHARE), (0, 0.0), (0, 1.0)])
def test_findings_stored_after_a_write_in_several_places_are_those_computed_now(
    refreshed, tmp_path, monkeypatch, few, share
):
    monkeypatch.setattr(findings, "FEW_SERIES", few)
    monkeypatch.setattr(findings, "FEW_SERIES_SHARE", share)
    settings = copy_refreshed(refreshed, tmp_path)
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / "figures.csv").write_text(ROWS, encoding="utf-8")
    (settings.inbox_dir / "figures.csv.meta.toml").write_text(
        'title = "Figures (test)"\npublisher = "Test"\npublished = "2026-01-15"\n', encoding="utf-8"
    )
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error
    con = open_reader(settings.read_target)
    try:
        differ = con.execute(
            "SELECT (SELECT COUNT(*) FROM (FROM stored_alert_findings EXCEPT ALL FROM alert_findings)),"
            " (SELECT COUNT(*) FROM (FROM alert_findings EXCEPT ALL FROM stored_alert_findings))"
        ).fetchone()
        new_year = con.execute(
            "SELECT geo FROM stored_alert_findings WHERE year = 2025 AND check_name = 'yoy_change' ORDER BY geo"
        ).fetchall()
    finally:
        con.close()
    assert differ == (0, 0)
    assert ("BEANR",) in new_year
