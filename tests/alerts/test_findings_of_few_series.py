"""The findings of the series a write touched, a few at once or many in parts, are computed with only the checks their
series can have a finding of (no year-over-year change without an annual indicator, no edition change without a
biennial one, no source conflict outside multi_source_periods); with every series of their places and indicators,
with every check. Whichever way, what is stored is what every check computes."""

from __future__ import annotations

import pytest

from analyst_fixtures import copy_refreshed
from octracker.store import findings
from octracker.store.findings import series_changed
from octracker.store.warehouse import open_writer
from octracker.store.writers import write_transaction

#: The checks a series' indicator or sources decide, and one of the others.
CHECKS = ("yoy_change", "edition_change", "source_conflict", "record")


def stored_and_computed_differ(con) -> tuple[int, int]:
    return con.execute(
        "SELECT (SELECT COUNT(*) FROM (FROM stored_alert_findings EXCEPT ALL FROM alert_findings)),"
        " (SELECT COUNT(*) FROM (FROM alert_findings EXCEPT ALL FROM stored_alert_findings))"
    ).fetchone()


@pytest.mark.parametrize("way", ["few", "in parts", "by places"])
@pytest.mark.parametrize("check", CHECKS)
def test_the_findings_of_a_series_written_alone_are_every_check_computes(uncurated, tmp_path, monkeypatch, check, way):
    if way != "few":
        # As if it were one of many series: computed by id in parts (more than MANY_SERIES), or with every series of
        # their geos and indicators (a small share of them).
        monkeypatch.setattr(findings, "FEW_SERIES", 0)
        monkeypatch.setattr(findings, "MANY_SERIES", 0 if way == "in parts" else 100_000)
        monkeypatch.setattr(findings, "FEW_SERIES_SHARE", 0.5 if way == "in parts" else 0.0)
    settings = copy_refreshed(uncurated, tmp_path)
    with open_writer(settings) as con:
        indicator_id, geo, found = con.execute(
            "SELECT indicator_id, geo, COUNT(*) FROM stored_alert_findings WHERE check_name = ? "
            "GROUP BY ALL ORDER BY ALL LIMIT 1",
            [check],
        ).fetchone()
        # The series' findings are cleared and stored again, as after a write that revised one of its values.
        write_transaction(
            con,
            lambda: series_changed(
                con, "SELECT ? AS indicator_id, ? AS geo, CAST(NULL AS VARCHAR) AS source_id", [indicator_id, geo]
            ),
            what="a series",
        )
        again = con.execute(
            "SELECT COUNT(*) FROM stored_alert_findings WHERE check_name = ? AND indicator_id = ? AND geo = ?",
            [check, indicator_id, geo],
        ).fetchone()[0]
        differ = stored_and_computed_differ(con)
    assert (again, differ) == (found, (0, 0))
