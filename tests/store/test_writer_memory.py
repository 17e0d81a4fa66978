"""A write holds DuckDB to a memory bound and spills what exceeds it beside the warehouse, leaving nothing there
once it closes: without a bound DuckDB takes up to 80 % of the machine's memory for a large load's checks."""

from __future__ import annotations

from pathlib import Path

import duckdb

from conftest import REPO
from octracker.store.settings import build_settings
from octracker.store.warehouse import WRITER_MEMORY_LIMIT, open_writer


def test_a_write_is_held_to_a_memory_bound_and_spills_beside_the_warehouse_leaving_nothing_after(tmp_path: Path):
    settings = build_settings(project=REPO, warehouse=tmp_path / "warehouse" / "octracker.duckdb", environ={})
    with duckdb.connect() as unbounded:
        unbounded.execute(f"SET memory_limit = '{WRITER_MEMORY_LIMIT}'")
        bound = unbounded.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    spill = settings.warehouse.with_name(settings.warehouse.name + ".tmp")
    with open_writer(settings) as con:
        limit, temp = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        assert limit == bound
        assert Path(temp) == spill
        # A sort larger than a small bound spills there (the folder is made when DuckDB first spills).
        con.execute("SET memory_limit = '32MB'")
        sorted_rows = "SELECT md5(i::VARCHAR) AS h FROM range(1000000) t(i) ORDER BY h LIMIT 900000"
        assert con.execute(f"SELECT count(*) FROM ({sorted_rows})").fetchone() == (900000,)
        assert spill.is_dir()
    assert not spill.exists()
