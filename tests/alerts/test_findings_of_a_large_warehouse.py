"""`SELECT * FROM alert_findings` on a warehouse of many series returns every finding to a client reading it row by row.

In DuckDB 1.5.5 a result streamed to the client from the view's UNION ALL of checks waited forever, every thread
idle, once the findings outgrew the client's buffer (100,000 series of five years hung every time, 40,000 did not);
the view's ORDER BY is what lets it return (see 55_alert_findings.sql).
"""

from __future__ import annotations

import pytest

from annual_rows import load_into_new_warehouse, place_series
from octracker.store.warehouse import open_writer
from published import read_rows, streamed_row_count

pytestmark = pytest.mark.slow

#: Places, each one series of five annual values of a catalog indicator (500,000 versions).
PLACES, YEARS = 100_000, 5


def test_every_finding_of_100000_series_reaches_a_client_reading_the_view_row_by_row(settings, catalog):
    frame = place_series(PLACES, YEARS, geo_prefix="G")
    with open_writer(settings) as con:
        load_into_new_warehouse(con, settings, catalog, frame)()
    counted = dict(read_rows(settings.warehouse, "SELECT check_name, COUNT(*) FROM alert_findings GROUP BY ALL"))
    # Every series has a latest value (stale_series) and a change from the year before (yoy_change).
    assert counted["stale_series"] == counted["yoy_change"] == PLACES
    assert streamed_row_count(settings.warehouse, "SELECT * FROM alert_findings") == sum(counted.values())
    # The macro, over every series, as docs/analysts.md says to query it: ending in an ORDER BY.
    everything = "SELECT * FROM alert_findings_in(NULL, NULL, NULL, NULL) ORDER BY check_name"
    assert streamed_row_count(settings.warehouse, everything) == sum(counted.values())
    first = read_rows(settings.warehouse, "SELECT check_name, geo FROM alert_findings LIMIT 2")
    assert [name for name, _ in first] == [min(counted)] * 2
