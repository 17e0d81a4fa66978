"""The benchmark's small change is what its name says: a few revised rows, spread over the whole table."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

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


def test_the_day_before_s_small_change_is_as_many_other_revised_rows_spread_the_same_way(tmp_path):
    files = write_tables(SIZES["100k"], tmp_path)
    base = pl.read_parquet(files.base).with_row_index("position")
    delta = pl.read_parquet(files.delta)
    small, earlier = pl.read_parquet(files.small_change), pl.read_parquet(files.small_change_earlier)

    assert earlier.height == SMALL_CHANGE_ROWS
    assert earlier.join(delta, on=[*KEY, "value"], how="anti").is_empty()
    assert earlier.join(small, on=KEY, how="semi").is_empty()  # no row of the day's corrections
    at = earlier.join(base, on=KEY, how="inner")
    assert at.height == SMALL_CHANGE_ROWS and (at["value"] != at["value_right"]).all()
    assert at["position"].min() < base.height // 10 and at["position"].max() > base.height * 9 // 10
    assert at.select(pl.struct("indicator", "geo").n_unique()).item() == SMALL_CHANGE_ROWS


@pytest.mark.parametrize("missing", ["small_change", "small_change_earlier"])
def test_tables_generated_before_a_small_change_existed_get_it_without_being_rewritten(tmp_path, missing):
    files = write_tables(SIZES["100k"], tmp_path)
    made = {p: p.read_bytes() for p in (files.small_change, files.small_change_earlier)}
    kept = [p for p in dataclasses.astuple(files) if p != getattr(files, missing)]
    stamps = {p: p.stat().st_mtime_ns for p in kept}
    getattr(files, missing).unlink()

    again = write_tables(SIZES["100k"], tmp_path)

    assert {p: p.read_bytes() for p in (again.small_change, again.small_change_earlier)} == made
    assert {p: p.stat().st_mtime_ns for p in kept} == stamps


def test_the_cbs_like_table_names_regions_as_a_cbs_load_does_and_revises_one_percent(tmp_path):
    from benchmarks.dataset import CBS_REVISED_SHARE, catalog_toml, write_cbs_tables
    from octracker.countries import is_known_geo

    files = write_cbs_tables(tmp_path, municipalities=1)
    base, revised = pl.read_parquet(files.base), pl.read_parquet(files.revised)

    assert base.height == 100_000 and base.select(pl.struct(KEY).n_unique()).item() == base.height
    geos = base["geo"].unique().to_list()
    assert len(geos) == 100 and all(is_known_geo(g) for g in geos)
    assert {g[:5] for g in geos} == {"NL-WK", "NL-BU"}
    assert all(f'id = "{i}"' in catalog_toml() for i in base["indicator"].unique().to_list())
    moved = revised["value"] - base["value"]
    assert set(moved.unique().to_list()) == {0.0, 1.0}  # a count moved by one, the key and order kept
    assert abs(moved.sum() / base.height - CBS_REVISED_SHARE) < 0.002
