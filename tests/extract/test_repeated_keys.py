"""A key repeated anywhere in a table read in batches is found, whatever the order of its rows; a table sorted by
series, then period, is proven free of repeats by its runs, without the hash of every key."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octracker.extract.repeated_keys import KeyBuckets, KeyHashes, KeyRuns, RepeatedKeys

KEY = ["indicator_id", "geo", "period_start", "period_end"]


def rows(*keys: tuple[str, str, int]) -> pl.DataFrame:
    """Rows of (indicator, geo, year): the period is the year."""
    return pl.DataFrame(
        [(i, g, dt.date(y, 1, 1), dt.date(y, 12, 31)) for i, g, y in keys],
        schema={"indicator_id": pl.String, "geo": pl.String, "period_start": pl.Date, "period_end": pl.Date},
        orient="row",
    )


def judged(batches: list[pl.DataFrame]) -> tuple[bool, bool, list[int]]:
    """(no key repeats, judged by runs to the end, batches read again for their hashes) of these batches in turn."""
    offsets = [sum(b.height for b in batches[:n]) for n in range(len(batches))]
    at = dict(zip(offsets, batches))
    read_again: list[int] = []

    def hashes_at(offset: int) -> KeyBuckets:
        read_again.append(offset)
        return KeyHashes.of(at[offset], KEY)

    with RepeatedKeys(KEY, hashes_at) as keys:
        for offset, batch in zip(offsets, batches):
            keys.add(offset, batch, KeyRuns.of(batch, KEY))
        return keys.unique(), keys.by_runs, read_again


def series(indicator: str, geo: str, years: range) -> list[tuple[str, str, int]]:
    return [(indicator, geo, y) for y in years]


SORTED = [
    *series("a", "BE", range(2000, 2010)),
    *series("a", "NL", range(2000, 2010)),
    *series("b", "BE", range(2000, 2010)),
]


def in_batches(keys: list[tuple[str, str, int]], size: int) -> list[pl.DataFrame]:
    return [rows(*keys[n : n + size]) for n in range(0, len(keys), size)]


def test_a_table_sorted_by_series_then_period_is_proven_free_of_repeats_by_its_runs():
    # Runs go on from one batch into the next (batches of 7 rows cut every series).
    assert judged(in_batches(SORTED, 7)) == (True, True, [])


@pytest.mark.parametrize(
    "keys",
    [
        [*SORTED[:7], ("a", "BE", 2006), *SORTED[7:]],  # the last key of a batch again, first in the next
        [*SORTED[:9], ("a", "BE", 2008), *SORTED[9:]],  # a key again within a batch, right after itself
        [*SORTED[:24], ("b", "BE", 2001), *SORTED[24:]],  # a period the run had, again further on in it
        [*SORTED, ("a", "BE", 2004)],  # a series of an earlier run, in a later batch
    ],
)
def test_a_key_repeated_after_the_rows_before_it_is_found(keys):
    unique, by_runs, _ = judged(in_batches(keys, 7))
    assert (unique, by_runs) == (False, False)


def test_a_series_coming_back_with_new_periods_only_is_no_repeat_though_its_hashes_are_read_again():
    keys = [
        *series("a", "BE", range(2000, 2005)),
        *series("b", "BE", range(2000, 2005)),
        *series("a", "BE", range(2005, 2010)),
    ]
    assert judged(in_batches(keys, 4)) == (True, False, [0, 4, 8, 12])


def test_a_table_that_is_unsorted_from_a_later_batch_on_reads_only_the_batches_before_it_again():
    later = [("b", "NL", 2001), ("b", "NL", 2000), ("b", "NL", 2002)]
    assert judged(in_batches([*SORTED, *later], 10)) == (True, False, [0, 10, 20])
    assert judged(in_batches([*SORTED, *later, ("a", "NL", 2005)], 10))[0] is False


def test_a_table_of_short_runs_is_judged_by_its_hashes_from_the_start(monkeypatch):
    # By period, then place: one row per run, which would keep a hash per row in memory.
    monkeypatch.setattr(RepeatedKeys, "FEW_RUNS", 4)
    keys = [("a", g, y) for y in range(2000, 2010) for g in ("BE", "NL", "LU")]
    assert judged(in_batches(keys, 6)) == (True, False, [])
    assert judged(in_batches([*keys, ("a", "LU", 2000)], 6))[0] is False


def test_a_key_with_a_null_is_judged_by_its_hashes():
    batch = rows(*SORTED[:3]).with_columns(period_end=pl.Series([dt.date(2000, 12, 31), None, None]))
    assert judged([batch]) == (True, False, [])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["BE", "NL"]), st.integers(2000, 2004)), max_size=30),
    st.integers(1, 8),
    st.booleans(),
)
def test_a_repeat_is_found_exactly_whatever_the_order_and_the_batches(keys, size, sort):
    if sort:
        keys = sorted(keys)
    unique, _, _ = judged(in_batches(keys, size)) if keys else (True, True, [])
    assert unique == (len(set(keys)) == len(keys))


def test_the_runs_a_reader_finds_give_each_row_the_series_id_the_writer_would_find_itself():
    from octracker.extracts import SERIES_STARTS
    from octracker.store.series_keys import SeriesIds

    batch = rows(*SORTED[:12], ("b", "BE", 2000), ("a", "BE", 2011), ("a", "NL", 2011))
    known = pl.DataFrame({"series_id": [7], "indicator_id": ["a"], "geo": ["NL"]})
    by_writer = SeriesIds(known, next_id=8).of(batch)
    with_starts = batch.with_columns(KeyRuns.of(batch, KEY).starts)
    assert with_starts.get_column(SERIES_STARTS).arg_true().to_list() == [0, 10, 12, 13, 14]
    assert SeriesIds(known, next_id=8).of(with_starts).to_list() == by_writer.to_list() == [8] * 10 + [7, 7, 9, 8, 7]
