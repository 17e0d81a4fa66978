"""A large table's first load, read, checked and inserted in batches: the same rows as a whole read, or nothing.

The table is the recorded `shootings_2024_final.csv` with earlier years of its first series added (values derived
from its 2023 row), as Parquet, so that it spans several batches of four rows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from octracker.extract import long_table, repeated_keys
from octracker.load import loading
from octracker.load.pipeline import refresh
from octracker.store import findings, history, staging, warehouse
from published import read_rows

RECORDED = Path(__file__).resolve().parents[1] / "cases" / "inbox" / "shootings_2024_final.csv"
POLICE = 'publisher = "Brussels police statistics (test)"\n'
#: What a load wrote, without what differs between two runs (run id, load time).
WRITTEN = (
    "SELECT indicator_id, geo, period_start, period_end, year, value, unit, qualifier, is_partial, as_of, source_id, "
    "method, evidence, note, flags, row_hash, evidence_row, pipeline, valid_to FROM observation_history ORDER BY ALL"
)


@pytest.fixture
def batches_of_four(monkeypatch):
    """Every table is large (cited by reference) and read in batches of four rows."""
    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)
    monkeypatch.setattr(long_table, "BATCH_ROWS", 4)


@pytest.fixture
def inserts(monkeypatch) -> list[int]:
    """Counts the batched inserts begun (one per load read in batches)."""
    begun: list[int] = []
    real_insert = loading.insert_first_versions
    monkeypatch.setattr(
        loading, "insert_first_versions", lambda con, frames, **kw: begun.append(1) or real_insert(con, frames, **kw)
    )
    return begun


@pytest.fixture
def stage_per_batch(monkeypatch, caplog) -> None:
    """Each batch of a first load is committed as a stage of its own, and the stages are logged."""
    monkeypatch.setattr(history, "PARTS_PER_INSERT", 1)
    caplog.set_level(logging.DEBUG, logger=loading.log.name)


def stages_committed(caplog) -> int:
    messages = [r.getMessage() for r in caplog.records]
    return sum(" of the first load of " in m and m.endswith(" committed") for m in messages)


def left_in_the_file(settings) -> tuple[int, int]:
    """Rows of the history and runs listed as loading in stages, in the warehouse file itself (not the copy)."""
    return read_rows(
        settings.warehouse, "SELECT (SELECT COUNT(*) FROM observation_history), (SELECT COUNT(*) FROM staged_runs)"
    )[0]


def table(extra_rows: list[str] = ()) -> str:
    """The recording with the years 2010-2022 of its first series before its rows, and `extra_rows` after."""
    header, *rows = RECORDED.read_text().splitlines()
    earlier = [f"shootings,BE-BRU,{year},{61 - (2023 - year)},count,exact,,," for year in range(2010, 2023)]
    return "\n".join([header, *earlier, *rows, *extra_rows]) + "\n"


def drop_parquet(settings, tmp_path: Path, csv_text: str, name: str = "shootings.parquet") -> None:
    source = tmp_path / "table.csv"
    source.write_text(csv_text)
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    pl.read_csv(source, infer_schema=False).write_parquet(settings.inbox_dir / name)
    (settings.inbox_dir / f"{name}.meta.toml").write_text(POLICE)


def written(settings) -> list[tuple]:
    return read_rows(settings.published_path, WRITTEN)


def findings_stored(settings) -> bool:
    """Whether the published copy stores alert findings, and every finding the checks compute now among them."""
    stored, missing = read_rows(
        settings.published_path,
        "SELECT (SELECT COUNT(*) FROM stored_alert_findings), "
        "(SELECT COUNT(*) FROM (SELECT * FROM alert_findings EXCEPT ALL SELECT * FROM stored_alert_findings))",
    )[0]
    return stored > 0 and missing == 0


def test_a_table_read_in_batches_loads_exactly_what_a_whole_read_loads(
    settings, tmp_path, batches_of_four, inserts, monkeypatch
):
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 16), result.error
    assert inserts == [1]  # the batched path, not the whole read
    in_batches = written(settings)
    # The alert findings of the series loaded are stored with them (BE-BRU is a place alerts follow).
    assert findings_stored(settings)

    settings.warehouse.unlink()
    shutil.rmtree(settings.published_path.parent)
    monkeypatch.setattr(loading, "READS_IN_BATCHES", {})
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 16), result.error
    assert written(settings) == in_batches
    assert sorted(row[16] for row in in_batches) == list(range(1, 17))  # every row cited by its number


@pytest.mark.parametrize("extra_rows", [[], ["shooting_deaths,BE-BRU,2023,seven,count,exact,,,final"]])
def test_a_table_read_in_batches_leaves_polars_settings_as_they_were(
    settings, tmp_path, batches_of_four, inserts, extra_rows
):
    # The batches are read with polars' in-memory engine; a caller's own choice holds again after the load, loaded
    # or refused.
    with pl.Config(engine_affinity="streaming"):
        before = pl.Config.state(if_set=True)
        drop_parquet(settings, tmp_path, table(extra_rows))
        [result] = refresh(settings, ["inbox"])
        assert inserts == [1]
        assert result.status == ("refused" if extra_rows else "success"), result.error
        assert pl.Config.state(if_set=True) == before


def test_a_bad_row_in_the_last_batch_leaves_nothing_written_and_names_the_row(
    settings, tmp_path, batches_of_four, inserts
):
    drop_parquet(settings, tmp_path, table(["shooting_deaths,BE-BRU,2023,seven,count,exact,,,final"]))
    [result] = refresh(settings, ["inbox"])
    assert inserts == [1]  # the batched insert began: the refusal came from its last batch
    assert result.status == "refused"
    assert "shootings.parquet, line 17: bad_number: row 17: value 'seven' is not a plain decimal number" in result.error
    assert "nothing from it was loaded" in result.error
    assert written(settings) == []
    rows = read_rows(settings.published_path, "SELECT line_no, payload FROM quarantine WHERE check_name = 'bad_number'")
    assert rows == [(17, "shooting_deaths,BE-BRU,2023,seven,count,exact,,,final")]


@pytest.mark.parametrize(
    ("row", "check"),
    [
        ("shootings,BE-BRU,2009,-5,count,exact,,,", "out_of_range"),
        ("shootings,BE-BRU,2009,5,kg,exact,,,", "unit_mismatch"),
        ("shootingz,BE-BRU,2009,5,count,exact,,,", "unknown_indicator"),
    ],
)
def test_a_row_the_catalog_refuses_in_the_last_batch_refuses_the_table(
    settings, tmp_path, batches_of_four, inserts, row, check
):
    # The reader in batches checks the catalog for every row; the checks of the rows it gives do not again.
    drop_parquet(settings, tmp_path, table([row]))
    [result] = refresh(settings, ["inbox"])
    assert inserts == [1]
    assert result.status == "refused"
    assert f"shootings.parquet, line 17: {check}: row 17: " in result.error
    assert written(settings) == []


def test_a_key_repeated_in_a_later_batch_refuses_the_table_as_a_whole_read_does(
    settings, tmp_path, batches_of_four, inserts
):
    # Row 1 (2010) is in the first batch; its key comes back, with another value, in the last.
    drop_parquet(settings, tmp_path, table(["shootings,BE-BRU,2010,40,count,exact,,,"]))
    [result] = refresh(settings, ["inbox"])
    assert inserts == [1]
    assert result.status == "refused"
    assert "line 17: duplicate_key: row 17: same indicator, geo and period as line 1" in result.error
    assert written(settings) == []


def test_a_key_repeated_within_one_batch_refuses_the_table_as_a_whole_read_does(
    settings, tmp_path, batches_of_four, inserts
):
    # Rows 17 and 18, in the same batch of four, state one key twice; batches do not look for repeats themselves.
    twice = "shooting_deaths,BE-BRU,2011,3,count,exact,,,"
    drop_parquet(settings, tmp_path, table([twice, twice]))
    [result] = refresh(settings, ["inbox"])
    assert inserts == [1]
    assert result.status == "refused"
    assert "line 18: duplicate_key: row 18: same indicator, geo and period as line 17" in result.error
    assert written(settings) == []


@pytest.mark.parametrize(
    ("extra_rows", "status"),
    [
        ([], "success"),
        (["shootings,BE-BRU,2010,40,count,exact,,,"], "refused"),  # a key repeated, found after the last batch
        (["shooting_deaths,BE-BRU,2023,seven,count,exact,,,final"], "refused"),  # a bad row ends the reading early
    ],
)
def test_the_key_check_keeps_its_hashes_in_files_no_folder_holds_so_nothing_is_left_however_the_load_ends(
    settings, tmp_path, batches_of_four, monkeypatch, extra_rows, status
):
    # Not even a killed load's: the files have no name, and the system frees them with the process. Every batch is
    # judged by its hashes (the table's runs would prove its keys apart without them).
    monkeypatch.setattr(repeated_keys.RepeatedKeys, "FEW_RUNS", 0)
    monkeypatch.setattr(repeated_keys.RepeatedKeys, "RUN_ROWS", 10**9)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    written_bytes: list[int] = []
    real_add = repeated_keys.KeyHashes.add

    def add(self, hashes):
        real_add(self, hashes)
        written_bytes.append(sum(os.fstat(f.fileno()).st_size for f in self._files))
        assert list(scratch.iterdir()) == []

    monkeypatch.setattr(repeated_keys.KeyHashes, "add", add)
    drop_parquet(settings, tmp_path, table(extra_rows))
    [result] = refresh(settings, ["inbox"])
    assert result.status == status, result.error
    assert written_bytes[-1] >= 8 * 16  # 8 bytes for each of the 16 rows read without a problem, at least
    assert list(scratch.iterdir()) == []


def test_a_first_load_committed_in_stages_loads_exactly_what_one_transaction_loads(
    settings, tmp_path, batches_of_four, inserts, monkeypatch, stage_per_batch, caplog
):
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 16), result.error
    assert (inserts, stages_committed(caplog)) == ([1], 4)  # 16 rows, four batches, one stage each
    in_stages = written(settings)
    assert left_in_the_file(settings) == (16, 0)  # the run no longer listed as loading in stages

    settings.warehouse.unlink()
    shutil.rmtree(settings.published_path.parent)
    monkeypatch.setattr(loading, "READS_IN_BATCHES", {})
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error
    assert written(settings) == in_stages


def test_a_bad_row_after_stages_were_committed_leaves_nothing_in_the_warehouse(
    settings, tmp_path, batches_of_four, inserts, stage_per_batch, caplog
):
    drop_parquet(settings, tmp_path, table(["shooting_deaths,BE-BRU,2023,seven,count,exact,,,final"]))
    [result] = refresh(settings, ["inbox"])
    assert inserts == [1] and stages_committed(caplog) == 4  # the bad row is in the fifth batch
    assert result.status == "refused"
    assert "shootings.parquet, line 17: bad_number: row 17: value 'seven' is not a plain decimal number" in result.error
    assert written(settings) == []
    assert left_in_the_file(settings) == (0, 0)
    # The corrected table loads whole.
    drop_parquet(settings, tmp_path, table(["shooting_deaths,BE-BRU,2023,7,count,exact,,,final"]), name="fixed.parquet")
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 17), result.error
    assert left_in_the_file(settings) == (17, 0)


def test_a_key_repeated_across_stages_leaves_nothing_in_the_warehouse(
    settings, tmp_path, batches_of_four, inserts, stage_per_batch, caplog
):
    # Row 1 (2010) is in the first stage; its key comes back in the fifth batch, found after the last.
    drop_parquet(settings, tmp_path, table(["shootings,BE-BRU,2010,40,count,exact,,,"]))
    [result] = refresh(settings, ["inbox"])
    assert stages_committed(caplog) == 5
    assert result.status == "refused"
    assert "line 17: duplicate_key: row 17: same indicator, geo and period as line 1" in result.error
    assert left_in_the_file(settings) == (0, 0)


def test_a_first_load_failing_after_its_stages_leaves_nothing_and_says_so(
    settings, tmp_path, batches_of_four, stage_per_batch, caplog, monkeypatch
):
    def disk_fails(con, source_ids, series_ids=None):
        raise duckdb.IOException("could not write: No space left on device")

    monkeypatch.setattr(loading, "first_load_done", disk_fails)
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert stages_committed(caplog) == 4
    assert result.status == "failed" and "No space left on device" in result.error
    assert written(settings) == []
    assert left_in_the_file(settings) == (0, 0)
    [(status,)] = read_rows(settings.published_path, "SELECT status FROM runs WHERE pipeline = 'inbox'")
    assert status == "failed"


def test_stages_a_failed_load_could_not_remove_are_removed_before_the_copy_is_published(
    settings, tmp_path, batches_of_four, stage_per_batch, caplog, monkeypatch
):
    def disk_fails(con, source_ids, series_ids=None):
        raise duckdb.IOException("could not write: No space left on device")

    def removal_fails(con):
        raise duckdb.IOException("could not read: Input/output error")

    monkeypatch.setattr(loading, "first_load_done", disk_fails)
    monkeypatch.setattr(loading, "discard_staged", removal_fails)  # the removal after the failure fails too
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert stages_committed(caplog) == 4 and result.status == "failed"
    assert "No space left on device" in result.error  # the load's own error, not the removal's
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "could not be removed now (could not read: Input/output error)" in warning
    assert written(settings) == []
    assert left_in_the_file(settings) == (0, 0)


def test_the_stages_run_under_a_memory_bound_of_their_own_and_the_writer_then_has_its_own_again(
    settings, tmp_path, batches_of_four, stage_per_batch, monkeypatch
):
    seen: dict[str, str] = {}

    def noting(name, real):
        def call(con, *args, **kwargs):
            seen[name] = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            return real(con, *args, **kwargs)

        return call

    stages: list[str] = []
    real_transaction = loading.write_transaction

    def noting_stages(con, work, *, what):
        if "a stage of its first load" in what:
            stages.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return real_transaction(con, work, what=what)

    monkeypatch.setattr(loading, "write_transaction", noting_stages)
    monkeypatch.setattr(loading, "first_load_done", noting("final", loading.first_load_done))
    monkeypatch.setattr(warehouse, "publish", noting("after", warehouse.publish))
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error
    # Every stage, the first and those after DuckDB was made to drop the blocks of the ones before.
    assert stages == [as_duckdb_says(staging.STAGED_MEMORY_LIMIT)] * 4
    # The final transaction under a lower bound still: its findings' scans no longer keep the table's blocks.
    assert seen["final"] == as_duckdb_says(staging.FINAL_MEMORY_LIMIT)
    assert seen["after"] == as_duckdb_says(warehouse.WRITER_MEMORY_LIMIT)


def test_a_final_transaction_out_of_memory_under_its_bound_is_run_again_under_the_stages_bound(
    settings, tmp_path, batches_of_four, stage_per_batch, monkeypatch, caplog
):
    # The findings of a table whose every series alerts follow need more than the final bound: here, a list of
    # 100M integers (800 MB, which DuckDB cannot spill) where the final bound holds, and the real findings after.
    limits: list[str] = []
    real_settle = findings.settle_findings

    def settle(con):
        limits.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        if limits[-1] == as_duckdb_says(staging.FINAL_MEMORY_LIMIT):
            con.execute("SELECT list(i) FROM range(100000000) AS t(i)").fetchall()
        real_settle(con)

    monkeypatch.setattr(findings, "settle_findings", settle)
    caplog.set_level(logging.INFO, logger=staging.log.name)
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert (result.status, result.counts.new) == ("success", 16), result.error
    # The load's final transaction (the warehouse's own set-up settled findings before it, under the writer's limit).
    assert limits[-2:] == [as_duckdb_says(staging.FINAL_MEMORY_LIMIT), as_duckdb_says(staging.STAGED_MEMORY_LIMIT)]
    assert "needs more memory than 256MB (Out of Memory Error" in caplog.text
    assert "it is run again under 512MB" in caplog.text
    # Loaded once, with its findings, and no stage left behind.
    assert len(written(settings)) == 16
    assert findings_stored(settings)
    assert left_in_the_file(settings) == (16, 0)


@pytest.mark.parametrize("in_stages", [False, True])
def test_an_error_of_the_alert_findings_is_the_error_the_load_reports(
    settings, tmp_path, batches_of_four, stage_per_batch, monkeypatch, in_stages
):
    # A failed statement aborts the write's transaction; the findings' cleanup after it must not put DuckDB's
    # "Current transaction is aborted" in the place of what failed.
    if not in_stages:
        monkeypatch.setattr(loading, "READS_IN_BATCHES", {})

    real_store = findings._store_owed

    def failing(con):
        # The findings of the rows loaded, not those the warehouse's set-up owes before the load.
        if con.execute(f"SELECT COUNT(indicator_id) FROM {findings.OWED}").fetchone()[0]:
            con.execute("SELECT error('the findings could not be computed')")
        real_store(con)

    monkeypatch.setattr(findings, "_store_owed", failing)
    drop_parquet(settings, tmp_path, table())
    [result] = refresh(settings, ["inbox"])
    assert result.status == "failed"
    assert "the findings could not be computed" in result.error
    assert "transaction is aborted" not in result.error
    assert written(settings) == []
    assert left_in_the_file(settings) == (0, 0)


class RefusingConnection:
    """A writer's connection whose DuckDB refuses to set the memory limit to `refused`, with `error`."""

    def __init__(self, refused: str, error: duckdb.Error) -> None:
        self.con = duckdb.connect(config={"memory_limit": warehouse.WRITER_MEMORY_LIMIT})
        self.refused, self.error = refused, error

    def execute(self, sql: str, params: list | None = None):
        if sql.startswith("SET memory_limit") and params == [self.refused]:
            raise self.error
        return self.con.execute(sql, params)

    def limit(self) -> str:
        return self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def as_duckdb_says(limit: str) -> str:
    with duckdb.connect() as con:
        con.execute("SET memory_limit = ?", [limit])
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


@pytest.mark.parametrize("load_fails", [False, True])
def test_a_writer_limit_duckdb_refuses_back_after_the_stages_is_said_and_the_lower_bound_kept(caplog, load_fails):
    con = RefusingConnection(warehouse.WRITER_MEMORY_LIMIT, duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    with pytest.raises(ValueError) if load_fails else contextlib.nullcontext():
        with staging.bounded_memory(con, writer_limit=warehouse.WRITER_MEMORY_LIMIT):
            if load_fails:
                raise ValueError("the load's own error")
    # Lower than the writer's: safe for memory, and the load stands (committed, or failed with its own error).
    assert con.limit() == as_duckdb_says(staging.STAGED_MEMORY_LIMIT)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(
        f"DuckDB's memory limit could not be set back to {warehouse.WRITER_MEMORY_LIMIT} after a load in stages "
        "(INTERRUPT Error: Interrupted!): this write goes on under the load's 512MB"
    )


def test_blocks_duckdb_cannot_drop_after_a_stage_are_kept_and_any_other_error_stops_the_load(caplog):
    caplog.set_level(logging.DEBUG, logger=staging.log.name)
    full = RefusingConnection(staging.DROP_BLOCKS_LIMIT, duckdb.OutOfMemoryException("could not free up enough"))
    staging.drop_written_blocks(full)
    assert full.limit() == as_duckdb_says(staging.STAGED_MEMORY_LIMIT)
    assert "cannot go down to 64MB (could not free up enough)" in caplog.text
    broken = RefusingConnection(staging.DROP_BLOCKS_LIMIT, duckdb.ConnectionException("Connection already closed!"))
    with pytest.raises(duckdb.ConnectionException):
        staging.drop_written_blocks(broken)
