"""A write holds DuckDB to a memory bound and spills what exceeds it beside the warehouse, leaving nothing there
once it closes: without a bound DuckDB takes up to 80 % of the machine's memory for a large load's checks. A lake's
writer is held to the same bound, and spills to a folder of its own: its DuckDB's default is `.tmp` in the current
folder, shared by every writer started there."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import REPO
from octracker.load import loading
from octracker.load.pipeline import refresh
from octracker.store import findings
from octracker.store.settings import Settings, build_settings
from octracker.store.warehouse import WRITER_MEMORY_LIMIT, open_writer

#: A sort larger than a small bound: it spills (the folder is made when DuckDB first spills).
SORTED_ROWS = "SELECT count(*) FROM (SELECT md5(i::VARCHAR) AS h FROM range(1000000) t(i) ORDER BY h LIMIT 900000)"


def as_duckdb_says(limit: str) -> str:
    with duckdb.connect() as con:
        con.execute("SET memory_limit = ?", [limit])
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def bound_and_spill(con: duckdb.DuckDBPyConnection) -> tuple[str, Path]:
    limit, temp = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    return limit, Path(temp)


def spills(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET memory_limit = '32MB'")
    assert con.execute(SORTED_ROWS).fetchone() == (900000,)


def test_a_write_is_held_to_a_memory_bound_and_spills_beside_the_warehouse_leaving_nothing_after(tmp_path: Path):
    settings = build_settings(project=REPO, warehouse=tmp_path / "warehouse" / "octracker.duckdb", environ={})
    spill = settings.warehouse.with_name(settings.warehouse.name + ".tmp")
    with open_writer(settings) as con:
        assert bound_and_spill(con) == (as_duckdb_says(WRITER_MEMORY_LIMIT), spill)
        spills(con)
        assert spill.is_dir()
    assert not spill.exists()


@pytest.fixture(params=["local catalog", "catalog in PostgreSQL"])
def lake_writer_settings(request, tmp_path: Path, lake_server) -> Settings:
    if request.param == "local catalog":
        catalog = tmp_path / "lake" / "octracker.ducklake"
        return build_settings(project=REPO, warehouse=f"ducklake:{catalog}", environ={})
    return request.getfixturevalue("lake_settings")


def test_a_lake_writer_is_held_to_the_same_bound_and_spills_beside_the_lake_leaving_nothing_after(
    lake_writer_settings: Settings,
):
    settings = lake_writer_settings
    with open_writer(settings) as con:
        limit, spill = bound_and_spill(con)
        assert limit == as_duckdb_says(WRITER_MEMORY_LIMIT)
        assert spill.parent == settings.data_dir and spill.name.endswith(".tmp")
        spills(con)
        assert spill.is_dir()
    assert not spill.exists()


def test_a_load_into_a_lake_runs_under_the_bound_with_its_spill_folder(lake_settings: Settings, monkeypatch):
    seen: list[tuple[str, Path]] = []
    real_record = loading.record_source
    monkeypatch.setattr(
        loading, "record_source", lambda con, *args: seen.append(bound_and_spill(con)) or real_record(con, *args)
    )
    (result,) = refresh(lake_settings, ["oci_2025_profiles"])
    assert result.status == "success", result.error
    [(limit, spill)] = seen
    assert limit == as_duckdb_says(WRITER_MEMORY_LIMIT) and spill.parent == lake_settings.data_dir
    assert not spill.exists()


def test_lake_writers_side_by_side_spill_each_to_a_folder_of_its_own(lake_settings: Settings):
    """A DuckDB that closes deletes the spill files of any other in its folder."""
    with open_writer(lake_settings) as con, open_writer(lake_settings) as other:
        (_, spill), (_, other_spill) = bound_and_spill(con), bound_and_spill(other)
        assert spill != other_spill
        spills(con)
        spills(other)
    assert not spill.exists() and not other_spill.exists()


@pytest.mark.parametrize(
    ("limit", "bounded"), [("256MB", True), ("900MiB", True), ("1GiB", False), (WRITER_MEMORY_LIMIT, False)]
)
def test_findings_of_many_series_come_in_smaller_parts_under_a_bound_below_a_gibibyte(tmp_path, limit, bounded):
    """A first load's final transaction (256MB) computes many series' findings in parts of fewer series than a
    writer's usual transaction: a part's working set must fit its bound, and each part costs a plan and scans."""
    with duckdb.connect() as con:
        con.execute("SET memory_limit = ?", [limit])
        expected = findings.BOUNDED_SERIES_PER_PART if bounded else findings.SERIES_PER_PART
        assert findings.series_per_part(con) == expected
    assert findings.BOUNDED_SERIES_PER_PART < findings.SERIES_PER_PART
