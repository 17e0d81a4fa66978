"""The harness's small change (`python -m benchmarks.run --only change`) at the smoke size: each way it is timed
refreshes the warehouse with the corrections it names, and the scheduler's way refreshes twice in one process."""

from __future__ import annotations

import pytest

from benchmarks.dataset import SIZES, SMALL_CHANGE_ROWS, write_tables
from benchmarks.run import Bench, evaluate, restore, run_step


@pytest.mark.slow
def test_the_small_change_is_timed_in_a_new_process_as_the_command_and_in_a_scheduler_s_process(tmp_path, capfd):
    size = SIZES["100k"]
    files = write_tables(size, tmp_path)
    bench = Bench(tmp_path / "work", repeats=1, keep=True)

    bench.change_only(size.name, files)

    first, scheduled = bench.results["small_change_100k"].detail, bench.results["small_change_100k_scheduled"].detail
    # The day's corrections, after the day before's (loaded by a process of their own).
    day = (first["new"], first["revised"], first["versions"])
    assert day == (0, SMALL_CHANGE_ROWS, size.rows + 2 * SMALL_CHANGE_ROWS)
    assert "Changed values" in bench.results["small_change_100k_command"].detail["printed"]
    # The day before's corrections, then the day's, in the same process: each revised its own rows.
    assert (scheduled["first_revised"], scheduled["first_versions"]) == (
        SMALL_CHANGE_ROWS,
        size.rows + SMALL_CHANGE_ROWS,
    )
    assert (scheduled["new"], scheduled["revised"], scheduled["retracted"]) == (0, SMALL_CHANGE_ROWS, 0)
    assert (scheduled["versions"], scheduled["current"]) == (size.rows + 2 * SMALL_CHANGE_ROWS, size.rows)
    # The day's refresh does the same work whichever process makes it (the spec's rules those of its last load); the
    # hops are those of the timed refresh alone.
    assert set(scheduled["first_phases"]) <= set(first["phases"]) == set(scheduled["phases"])
    hops = sum(v for k, v in scheduled["phases"].items() if k != "known_row_hashes")  # counted in extract_document
    assert hops < bench.results["small_change_100k_scheduled"].seconds
    # In the table of targets for information, as --quick names its tables (1M and 100k rows).
    [row] = evaluate({"small_change_1m_scheduled": bench.results["small_change_100k_scheduled"]}, "1m", "100k")
    assert "scheduler" in row["check"] and row["unit"] == "s" and row["met"] is None

    # A day's document the same as the day before's: the timed refresh finds it unchanged, which stops the benchmark.
    work = tmp_path / "work"
    restore(work / "warehouse_100k_refreshed", work / "warehouse_100k")()
    same = {"earlier": str(files.small_change), "table": str(files.small_change)}
    with pytest.raises(SystemExit, match="octracker_scheduled failed"):
        run_step(
            "octracker_scheduled",
            {
                "project": str(work / "project_100k"),
                "warehouse": str(work / "warehouse_100k" / "octracker.duckdb"),
                **same,
            },
        )
    assert f"the refresh of {files.small_change} counted 0 new, 0 revised and 0 retracted" in capfd.readouterr().err
