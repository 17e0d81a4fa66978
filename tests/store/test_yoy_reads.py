"""`SELECT * FROM yoy_changes WHERE geo = ...` reads that place's versions only, on a warehouse of many row groups.

The filter reaches the table scan through the view (see 40_yoy_changes.sql): DuckDB reads the row groups that hold
the place's series and skips the others. Computing every series first and filtering afterwards returns the same rows
but reads every version, which on ten million versions takes seconds instead of a fraction of one. What is checked
is what DuckDB's profile says it read from observation_versions, not a time.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from annual_rows import annual_rows
from octracker.store.history import upsert_observations
from octracker.store.settings import build_settings
from octracker.store.warehouse import apply_migrations, apply_views, open_writer

REPO = Path(__file__).resolve().parents[2]

#: DuckDB stores a table in row groups of this many rows; its zonemaps let a scan skip a whole one.
ROW_GROUP = 122_880
GEOS, INDICATORS, YEARS = 320, 125, 20  # 800,000 versions: 40,000 series of 20 years, a place 2,500
LOADED = dt.datetime(2026, 1, 1, 12, 0)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """A file warehouse holding 320 places x 125 native annual series x 20 years, a place's series stored together
    (as a table of a publisher arrives place by place), in seven row groups."""
    settings = build_settings(
        project=REPO, warehouse=tmp_path_factory.mktemp("yoy_reads") / "octracker.duckdb", environ={}
    )
    frame = annual_rows(
        GEOS * INDICATORS * YEARS,
        first_year=1961,
        years=YEARS,
        indicator_id=pl.format("case.yoy_reads_{}", (pl.col("n") // YEARS) % INDICATORS),
        geo=pl.format("G{}", (pl.col("n") // (YEARS * INDICATORS)).cast(pl.String).str.zfill(3)),
        value=100 + pl.col("n") % 7,
    )
    with open_writer(settings) as connection:
        apply_migrations(connection, settings.migrations_dir)
        # No place is followed: loading computes no alert findings (not what is tested here).
        connection.execute("INSERT INTO alert_places VALUES ('nowhere')")
        apply_views(connection, settings.views_dir)
        upsert_observations(
            connection, frame, pipeline="p", run_id="r", source_ids=["stats"], full_snapshot=True, now=LOADED
        )
        connection.execute("CHECKPOINT")
        yield connection


def versions_read(con: duckdb.DuckDBPyConnection, sql: str) -> list[int]:
    """The rows each scan of observation_versions read to answer `sql`, as DuckDB's profile reports them."""
    con.execute("SET profiling_mode = 'detailed'")
    profile = json.loads(con.execute(f"EXPLAIN (ANALYZE, FORMAT json) {sql}").fetchall()[0][1])
    scans: list[int] = []

    def visit(node: dict) -> None:
        if str(node.get("extra_info", {}).get("Table", "")).endswith("observation_versions"):
            scans.append(int(node["operator_rows_scanned"]))
        for child in node.get("children", []):
            visit(child)

    visit(profile)
    return scans


def test_the_warehouse_has_enough_row_groups_to_skip(con):
    total = con.execute("SELECT COUNT(*) FROM observation_versions").fetchone()[0]
    row_groups = con.execute(
        "SELECT COUNT(DISTINCT row_group_id) FROM pragma_storage_info('observation_versions')"
    ).fetchone()[0]
    assert total == GEOS * INDICATORS * YEARS
    assert row_groups >= 6


def test_one_place_reads_the_row_groups_of_its_series_only(con):
    sql = "SELECT * FROM yoy_changes WHERE geo = 'G100'"
    rows = con.execute(f"SELECT COUNT(*), COUNT(DISTINCT indicator_id), bool_and(geo = 'G100') FROM ({sql})").fetchone()
    assert rows == (INDICATORS * YEARS, INDICATORS, True)
    scans = versions_read(con, sql)
    total = GEOS * INDICATORS * YEARS
    assert scans, "the profile shows no scan of observation_versions"
    # The place's 2,500 versions lie in one row group, or two when they straddle a boundary: every scan reads those,
    # where computing the view whole reads all of its (at least six) row groups.
    assert all(read <= 2 * ROW_GROUP for read in scans), f"{scans} of {total}"
    assert sum(scans) < total


def test_one_place_has_the_rows_the_whole_view_has_for_it(con):
    one = "SELECT * FROM yoy_changes WHERE geo = 'G100'"
    whole = "WITH y AS MATERIALIZED (SELECT * FROM yoy_changes) SELECT * FROM y WHERE geo = 'G100'"
    expected = con.execute(f"{whole} ORDER BY indicator_id, year").fetchall()
    assert con.execute(f"{one} ORDER BY indicator_id, year").fetchall() == expected
    by_ids = "SELECT * FROM yoy_changes_in(['G100'], NULL) ORDER BY indicator_id, year"
    assert con.execute(by_ids).fetchall() == expected
    # The whole view read every version: the check above would pass without the skipping it guards.
    assert sum(versions_read(con, whole)) >= GEOS * INDICATORS * YEARS
