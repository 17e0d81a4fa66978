"""The benchmark's small change is what its name says: a few revised rows, spread over the whole table."""

from __future__ import annotations

import polars as pl

from benchmarks.dataset import SIZES, SMALL_CHANGE_ROWS, write_tables

KEY = ["indicator", "geo", "period"]


def test_the_small_change_is_revised_rows_from_all_over_the_table(tmp_path):
    files = write_tables(SIZES["100k"], tmp_path)
    base = pl.read_parquet(files.base).with_row_index("position")
    delta, small = pl.read_parquet(files.delta), pl.read_parquet(files.small_change)

    assert small.height == SMALL_CHANGE_ROWS
    assert small.join(delta, on=[*KEY, "value"], how="anti").is_empty()  # every row is a revision of the delta
    at = small.join(base, on=KEY, how="inner")
    assert at.height == SMALL_CHANGE_ROWS  # each of them a row of the table, revised
    assert (at["value"] != at["value_right"]).all()
    # Spread: from the first tenth of the table to the last, each row in a series of its own.
    assert at["position"].min() < base.height // 10 and at["position"].max() > base.height * 9 // 10
    assert at.select(pl.struct("indicator", "geo").n_unique()).item() == SMALL_CHANGE_ROWS


def test_tables_generated_before_the_small_change_existed_get_it_without_being_rewritten(tmp_path):
    files = write_tables(SIZES["100k"], tmp_path)
    first = files.small_change.read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in (files.base, files.revised, files.reencoded, files.delta)}
    files.small_change.unlink()

    again = write_tables(SIZES["100k"], tmp_path)

    assert again.small_change.read_bytes() == first
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
