"""The bitemporal history on a real warehouse (DuckDB file and DuckLake): new, unchanged, revised and retracted rows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from octracker.store import history
from octracker.store.counts import LoadCounts
from octracker.store.history import upsert_observations
from octracker.store.warehouse import apply_migrations, apply_views, open_writer

pytestmark = pytest.mark.usefixtures("backend")

T1 = dt.datetime(2026, 1, 1, 12, 0)
T2 = dt.datetime(2026, 2, 1, 12, 0)
T3 = dt.datetime(2026, 3, 1, 12, 0)


def rows(**changes) -> pl.DataFrame:
    base = {
        "indicator_id": ["shootings", "shootings", "homicide_rate_per_100k"],
        "geo": ["BE-BRU", "BE-BRU", "US"],
        "period_start": [dt.date(2024, 1, 1), dt.date(2025, 1, 1), None],
        "period_end": [dt.date(2024, 12, 31), dt.date(2025, 12, 31), None],
        "year": [2024, 2025, None],
        "value": [92.0, 60.0, 6.8],
        "unit": ["count", "count", "per 100,000 people"],
        "qualifier": ["exact", "lower_bound", "exact"],
        "is_partial": [False, True, False],
        "as_of": [None, None, None],
        "source_id": ["s1", "s1", "s1"],
        "method": ["parsed"] * 3,
        "evidence": ["e1", "e2", "e3"],
        "note": [None, None, None],
    }
    base.update(changes)
    return pl.DataFrame(base, schema_overrides={"year": pl.Int32, "as_of": pl.Date})


def a_2023_row(**changes: pl.Expr) -> pl.DataFrame:
    """The first of `rows()`, for 2023: a key new to the history."""
    return (
        rows()
        .head(1)
        .with_columns(
            period_start=pl.lit(dt.date(2023, 1, 1)),
            period_end=pl.lit(dt.date(2023, 12, 31)),
            year=pl.lit(2023, pl.Int32),
        )
        .with_columns(**changes)
    )


def load(con, frame, now, full_snapshot=True, **kwargs):
    return upsert_observations(
        con, frame, pipeline="p", run_id=str(now), source_ids=["s1"], full_snapshot=full_snapshot, now=now, **kwargs
    )


def test_first_load_is_new_and_second_is_unchanged_with_no_new_versions(con):
    first = load(con, rows(), T1)
    assert first == LoadCounts(new=3)
    second = load(con, rows(), T2)
    assert second == LoadCounts(unchanged=3)
    assert con.execute("SELECT COUNT(*) FROM observation_history").fetchone()[0] == 3


def test_changed_value_closes_old_version_and_current_view_shows_new(con):
    load(con, rows(), T1)
    counts = load(con, rows(value=[92.0, 89.0, 6.8]), T2)
    assert counts == LoadCounts(revised=1, unchanged=2)
    versions = con.execute(
        "SELECT value, valid_from, valid_to FROM observation_history WHERE year = 2025 ORDER BY valid_from"
    ).fetchall()
    assert versions == [(60.0, T1, T2), (89.0, T2, None)]
    assert con.execute("SELECT value FROM observations WHERE year = 2025").fetchall() == [(89.0,)]


def test_what_was_known_at_a_time_is_one_query(con):
    load(con, rows(), T1)
    load(con, rows(value=[92.0, 89.0, 6.8]), T3)
    known_at = con.execute(
        "SELECT value FROM observation_history WHERE year = 2025 AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?)",
        [T2, T2],
    ).fetchall()
    assert known_at == [(60.0,)]


def test_unknown_period_is_one_observation_not_a_new_one_each_run(con):
    load(con, rows(), T1)
    load(con, rows(), T2)
    assert con.execute("SELECT COUNT(*) FROM observation_history WHERE year IS NULL").fetchone()[0] == 1


def test_row_no_longer_stated_by_a_full_snapshot_is_retracted_not_deleted(con):
    load(con, rows(), T1)
    assert load(con, rows().head(2), T2) == LoadCounts(unchanged=2, retracted=1)
    assert con.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 2
    assert con.execute("SELECT valid_to FROM observation_history WHERE year IS NULL").fetchone()[0] == T2


def test_partial_load_keeps_rows_it_does_not_mention(con):
    load(con, rows(), T1)
    assert load(con, rows().head(1), T2, full_snapshot=False) == LoadCounts(unchanged=1)
    assert con.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 3


def test_one_load_can_add_revise_keep_and_retract_at_once(con):
    load(con, rows(), T1)
    changed = rows(
        indicator_id=["shootings", "shootings", "shooting_deaths"],
        geo=["BE-BRU", "BE-BRU", "BE-BRU"],
        period_start=[dt.date(2024, 1, 1), dt.date(2025, 1, 1), dt.date(2024, 1, 1)],
        period_end=[dt.date(2024, 12, 31), dt.date(2025, 12, 31), dt.date(2024, 12, 31)],
        year=[2024, 2025, 2024],
        value=[92.0, 61.0, 9.0],
        unit=["count", "count", "count"],
    )
    assert load(con, changed, T2) == LoadCounts(new=1, revised=1, unchanged=1, retracted=1)
    current = con.execute("SELECT indicator_id, year, value FROM observations ORDER BY ALL").fetchall()
    assert current == [("shooting_deaths", 2024, 9.0), ("shootings", 2024, 92.0), ("shootings", 2025, 61.0)]
    closed = con.execute(
        "SELECT indicator_id, value FROM observation_history WHERE valid_to = ? ORDER BY ALL", [T2]
    ).fetchall()
    assert closed == [("homicide_rate_per_100k", 6.8), ("shootings", 60.0)]


def test_a_source_loaded_for_the_first_time_leaves_other_sources_alone(con):
    load(con, rows(), T1)
    other = rows(source_id=["s2", "s2", "s2"], value=[1.0, 2.0, 3.0])
    counts = upsert_observations(con, other, pipeline="p2", run_id="r2", source_ids=["s2"], full_snapshot=True, now=T2)
    assert counts == LoadCounts(new=3)
    per_source = con.execute("SELECT source_id, COUNT(*) FROM observations GROUP BY ALL ORDER BY ALL").fetchall()
    assert per_source == [("s1", 3), ("s2", 3)]


# Row groups are how a DuckDB file stores a table; a lake keeps Parquet files, so this is the file's property.
@pytest.mark.one_backend
def test_a_frame_in_many_chunks_is_stored_in_full_row_groups(con):
    # Chunks a little over one row group (122,880 rows), as polars reads a large Parquet file.
    n = pl.int_range(123_457, eager=True)
    chunk = pl.DataFrame({"n": n}).select(
        indicator_id=pl.lit("shootings"),
        geo=pl.lit("BE-BRU"),
        period_start=pl.date(1901 + pl.col("n") % 100, 1, 1),
        period_end=pl.date(1901 + pl.col("n") % 100, 12, 31),
        year=(1901 + pl.col("n") % 100).cast(pl.Int32),
        value=pl.col("n").cast(pl.Float64),
        unit=pl.lit("count"),
        qualifier=pl.lit("exact"),
        is_partial=pl.lit(False),
        as_of=pl.lit(None, pl.Date),
        source_id=pl.format("s{}", pl.col("n") // 100),
        method=pl.lit("parsed"),
        evidence=pl.lit("e"),
        note=pl.lit(None, pl.String),
    )
    many = pl.concat([chunk.with_columns(pl.col("source_id") + f"-{k}") for k in range(3)], rechunk=False)
    assert many.n_chunks() == 3
    counts = upsert_observations(
        con, many, pipeline="p", run_id="r", source_ids=many["source_id"].unique().to_list(), full_snapshot=True, now=T1
    )
    assert counts.new == many.height == 370_371
    row_groups = con.execute(
        "SELECT COUNT(DISTINCT row_group_id) FROM pragma_storage_info('observation_versions')"
    ).fetchone()[0]
    # Four full row groups hold them; chunk by chunk they would take six, part-filled, and the first checkpoint
    # after any update would rewrite the table to merge them (ten million rows: about ten seconds).
    assert row_groups == 4


def test_text_is_stored_exactly_on_a_first_load_and_on_a_later_one(con):
    # A first load streams polars' string views to DuckDB, a later one large strings (see history.in_row_groups):
    # either way the text read back is the text given, long or short, accented, empty or missing.
    texts = rows(
        unit=["count", "count", "per 100,000 people"],
        evidence=[
            "Brussel: 92 schietpartijen in 2024, zegt het parket (é, ü, €, 中)",
            "e",
            "row 7: homicide_rate_per_100k,US,,6.8,per 100,000 people",
        ],
        note=[None, "", "a note longer than twelve bytes, so that it is not kept inline"],
    )
    stored = "SELECT evidence, note, unit FROM observations ORDER BY evidence"
    expected = sorted(zip(texts["evidence"], texts["note"], texts["unit"]))
    load(con, texts, T1)
    assert con.execute(stored).fetchall() == expected
    revised = texts.with_columns(pl.col("evidence") + " (revised)", pl.col("note").fill_null("now noted"))
    # Other evidence and notes for the same values: new versions, no revision.
    assert load(con, revised, T2) == LoadCounts(unchanged=3)
    assert con.execute(stored).fetchall() == sorted(zip(revised["evidence"], revised["note"], revised["unit"]))


def test_restated_hashes_as_many_as_the_current_ones_but_not_the_same_do_not_pass_for_all_of_them(con):
    # A table restating every current version takes a shortcut (nothing of them compared), which a count
    # alone must not open: here the table reader read hashes 11, 12 and 14 before another writer replaced
    # the version with hash 14 by one with hash 13. The table states nothing else, so as a full snapshot
    # the version with hash 13 is no longer stated.
    load(con, rows().with_columns(_row_hash=pl.Series([11, 12, 13])), T1)
    counts = upsert_observations(
        con,
        rows().clear(),
        pipeline="p",
        run_id="r2",
        source_ids=["s1"],
        full_snapshot=True,
        now=T2,
        restated=pl.Series([11, 12, 14]),
    )
    assert counts.retracted == 1
    assert con.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 2


def test_a_table_restating_every_current_version_leaves_them_and_the_unhashed_ones_alone(con):
    load(con, rows().with_columns(_row_hash=pl.Series([11, 12, None], dtype=pl.Int64)), T1)
    # The two table rows restated; the third version (read from no table row) is stated again as it was.
    counts = upsert_observations(
        con,
        rows()[2:],
        pipeline="p",
        run_id="r2",
        source_ids=["s1"],
        full_snapshot=True,
        now=T2,
        restated=pl.Series([11, 12]),
    )
    assert counts == LoadCounts(unchanged=3)
    assert con.execute("SELECT COUNT(*) FROM observation_history").fetchone()[0] == 3


@pytest.mark.parametrize("stated_again", [True, False])
def test_a_table_restating_some_versions_compares_the_others_and_the_unhashed_ones(con, stated_again):
    load(con, rows().with_columns(_row_hash=pl.Series([11, 12, None], dtype=pl.Int64)), T1)
    # Row 11 restated; the row that stated 12 now gives another value; the version read from no table row
    # is compared as well: kept when stated again as it was, retracted from a full snapshot otherwise.
    incoming = rows(value=[92.0, 61.0, 6.8], evidence=["e1", "e2 revised", "e3"])[1:]
    incoming = incoming.with_columns(_row_hash=pl.Series([22, None], dtype=pl.Int64))
    if not stated_again:
        incoming = incoming[:1]
    counts = upsert_observations(
        con,
        incoming,
        pipeline="p",
        run_id="r2",
        source_ids=["s1"],
        full_snapshot=True,
        now=T2,
        restated=pl.Series([11]),
    )
    if stated_again:
        assert counts == LoadCounts(revised=1, unchanged=2)
    else:
        assert counts == LoadCounts(revised=1, unchanged=1, retracted=1)
    current = con.execute("SELECT evidence, value FROM observations ORDER BY evidence").fetchall()
    assert current == [("e1", 92.0), ("e2 revised", 61.0), *([("e3", 6.8)] if stated_again else [])]


@pytest.mark.parametrize("rewritten", [True, False], ids=["written-again", "closed-in-place"])
def test_the_versions_a_write_closes_are_kept_whole_whether_written_again_or_closed_in_place(
    con, monkeypatch, rewritten
):
    """A few versions a write closes are taken out and written again, closed; many are closed where they are: the
    history is the same, every version with all it stated (its own unit beside its load's usual one, its note, its
    row hash), valid until the write that closed it."""
    monkeypatch.setattr(history, "REWRITTEN_CLOSINGS", 2048 if rewritten else 0)
    hashed = rows(note=[None, "estimate", None]).with_columns(_row_hash=pl.Series([1, 2, 3], dtype=pl.Int64))
    load(con, hashed, T1)
    # A full snapshot revises 2025 and no longer states the US value; then a correction revises 2024.
    revised = hashed.head(2).with_columns(value=pl.Series([92.0, 61.0]), _row_hash=pl.Series([1, 12], dtype=pl.Int64))
    assert load(con, revised, T2) == LoadCounts(revised=1, unchanged=1, retracted=1)
    corrected = hashed.head(1).with_columns(value=pl.lit(93.0), _row_hash=pl.lit(21, pl.Int64))
    assert load(con, corrected, T3, full_snapshot=False) == LoadCounts(revised=1)
    history_rows = con.execute(
        "SELECT indicator_id, year, value, unit, qualifier, is_partial, evidence, note, row_hash, valid_from, valid_to "
        "FROM observation_history ORDER BY indicator_id, year, valid_from"
    ).fetchall()
    assert history_rows == [
        ("homicide_rate_per_100k", None, 6.8, "per 100,000 people", "exact", False, "e3", None, 3, T1, T2),
        ("shootings", 2024, 92.0, "count", "exact", False, "e1", None, 1, T1, T3),
        ("shootings", 2024, 93.0, "count", "exact", False, "e1", None, 21, T3, None),
        ("shootings", 2025, 60.0, "count", "lower_bound", True, "e2", "estimate", 2, T1, T2),
        ("shootings", 2025, 61.0, "count", "lower_bound", True, "e2", "estimate", 12, T2, None),
    ]
    assert con.execute("SELECT year, value FROM observations ORDER BY year").fetchall() == [(2024, 93.0), (2025, 61.0)]


@pytest.mark.parametrize("keyed", [True, False], ids=["found-by-key", "one-join"])
def test_a_feed_of_corrections_is_classified_alike_whether_its_versions_are_found_by_key_or_by_one_join(
    con, monkeypatch, keyed
):
    """A few corrections (not a full snapshot) find the versions they replace by key, then by row id: the history
    they leave is the one a join with every current version leaves."""
    monkeypatch.setattr(history, "KEYED_COMPARISON_ROWS", 2048 if keyed else 0)
    load(con, rows().with_columns(_row_hash=pl.Series([1, 2, 3], dtype=pl.Int64)), T1)
    corrections = pl.concat(
        [
            # 2024: the same values from a row whose cells hash otherwise; 2025: revised; no period: other evidence.
            rows(value=[92.0, 61.0, 6.8], evidence=["e1", "e2", "e3 again"]),
            a_2023_row(),
        ]
    ).with_columns(_row_hash=pl.Series([11, 12, 13, 14], dtype=pl.Int64))
    assert load(con, corrections, T2, full_snapshot=False) == LoadCounts(new=1, revised=1, unchanged=2)
    history_rows = con.execute(
        "SELECT year, value, evidence, row_hash, valid_from, valid_to FROM observation_history "
        "ORDER BY year NULLS LAST, valid_from"
    ).fetchall()
    assert history_rows == [
        (2023, 92.0, "e1", 14, T2, None),
        (2024, 92.0, "e1", 11, T1, None),
        (2025, 60.0, "e2", 2, T1, T2),
        (2025, 61.0, "e2", 12, T2, None),
        (None, 6.8, "e3", 3, T1, T2),
        (None, 6.8, "e3 again", 13, T2, None),
    ]


@pytest.mark.parametrize("keyed", [True, False], ids=["found-by-key", "one-join"])
def test_corrections_to_versions_read_by_reference_and_with_their_own_evidence_keep_the_evidence_of_each(
    con, monkeypatch, keyed
):
    """The keyed comparison reads the versions it replaces without their evidence, then the evidence of those of a load
    without a citation only: a version read by reference (its evidence its load's citation, stored NULL) and one
    with its own are compared, closed and kept as a join with every current version keeps them."""
    monkeypatch.setattr(history, "KEYED_COMPARISON_ROWS", 2048 if keyed else 0)

    def table_rows(values, evidence, evidence_rows, hashes):
        return rows(value=values, evidence=evidence).with_columns(
            _evidence_row=pl.Series(evidence_rows, dtype=pl.Int64), _row_hash=pl.Series(hashes, dtype=pl.Int64)
        )

    cited = "table t.csv"
    # A first load by reference: the table's citation is its load's, each version stores none.
    first = table_rows([92.0, 60.0, 6.8], [cited] * 3, [1, 2, 3], [1, 2, 3])
    load(con, first, T1, constant={"evidence": cited})
    # 2025 revised by reference, the US value revised with evidence of its own.
    second = table_rows([92.0, 61.0, 7.1], [cited, cited, "e3"], [4, 5, None], [11, 12, 13])
    assert load(con, second, T2, full_snapshot=False) == LoadCounts(revised=2, unchanged=1)
    # 2025 revised again; the US value stated again with the same evidence: unchanged (compared with its own).
    third = table_rows([92.0, 62.0, 7.1], [cited, cited, "e3"], [7, 8, None], [11, 22, 13])
    assert load(con, third, T3, full_snapshot=False) == LoadCounts(revised=1, unchanged=2)
    stored = con.execute(
        "SELECT h.year, h.value, h.evidence, v.evidence, h.evidence_row, h.valid_from, h.valid_to "
        "FROM stored_versions AS h JOIN observation_versions AS v ON v.rowid = h.version_rowid "
        "ORDER BY h.year NULLS LAST, h.valid_from"
    ).fetchall()
    assert stored == [
        (2024, 92.0, cited, None, 1, T1, None),
        (2025, 60.0, cited, None, 2, T1, T2),
        (2025, 61.0, cited, None, 5, T2, T3),
        (2025, 62.0, cited, None, 8, T3, None),
        (None, 6.8, cited, None, 3, T1, T2),
        (None, 7.1, "e3", "e3", None, T2, None),
    ]


@pytest.mark.parametrize("by_key", [True, False], ids=["taken-by-key", "copied"])
def test_a_large_frame_inserts_its_changed_rows_taken_by_key_leaving_the_history_a_copy_of_them_leaves(
    con, monkeypatch, by_key
):
    """A frame of more than STREAMED_ROWS rows keeps only the key of each changed row beside the comparison, and its
    changed rows are inserted from the frame itself (all of it when every row changed, those of the keys else): the
    history is the one a copy of every changed row leaves."""
    monkeypatch.setattr(history, "STREAMED_ROWS", 0 if by_key else 100_000)
    monkeypatch.setattr(history, "KEYED_COMPARISON_ROWS", 0)
    settings = "SELECT current_setting('preserve_insertion_order'), current_setting('dynamic_or_filter_threshold')"
    before = con.execute(settings).fetchone()
    load(con, rows(note=[None, "estimate", None]).with_columns(_row_hash=pl.Series([1, 2, 3], dtype=pl.Int64)), T1)
    # A full snapshot keeps 2024, revises 2025, adds 2023 and no longer states the US value; then a feed of
    # corrections revises every row it holds.
    snapshot = pl.concat(
        [
            rows(value=[92.0, 61.0, 6.8], note=[None, "estimate", None]).head(2),
            a_2023_row(unit=pl.lit("people")),
        ]
    ).with_columns(_row_hash=pl.Series([1, 12, 14], dtype=pl.Int64))
    assert load(con, snapshot, T2) == LoadCounts(new=1, revised=1, unchanged=1, retracted=1)
    corrections = snapshot.head(2).with_columns(value=pl.Series([93.0, 62.0]), _row_hash=pl.Series([21, 22]))
    assert load(con, corrections, T3, full_snapshot=False) == LoadCounts(revised=2)
    history_rows = con.execute(
        "SELECT year, value, unit, qualifier, is_partial, note, row_hash, valid_from, valid_to "
        "FROM observation_history ORDER BY year NULLS LAST, valid_from"
    ).fetchall()
    assert history_rows == [
        (2023, 92.0, "people", "exact", False, None, 14, T2, None),
        (2024, 92.0, "count", "exact", False, None, 1, T1, T3),
        (2024, 93.0, "count", "exact", False, None, 21, T3, None),
        (2025, 60.0, "count", "lower_bound", True, "estimate", 2, T1, T2),
        (2025, 61.0, "count", "lower_bound", True, "estimate", 12, T2, T3),
        (2025, 62.0, "count", "lower_bound", True, "estimate", 22, T3, None),
        (None, 6.8, "per 100,000 people", "exact", False, None, 3, T1, T2),
    ]
    # The settings the comparison changes for its statements are as they were.
    assert con.execute(settings).fetchone() == before


def test_versions_read_by_row_id_are_compared_as_stored_versions_shows_them(con):
    """The keyed comparison reads the versions it matched once, as stored, and compares them as `stored_versions`
    shows them (history._as_read restates the view's rules): a unit or qualifier stored as its load's usual one, and
    the load's source and method, read alike."""
    load(con, rows(), T1)
    columns = (
        "series_id, period_start, period_end, year, value, unit, qualifier, is_partial, as_of, source_id, method, "
        "evidence, note, valid_to, row_hash, flags, evidence_row, version_rowid"
    )
    stored = "(SELECT *, rowid AS version_rowid FROM observation_versions)"
    as_read = con.execute(f"SELECT {columns} FROM {history._as_read(stored)} ORDER BY version_rowid").fetchall()
    assert as_read == con.execute(f"SELECT {columns} FROM stored_versions ORDER BY version_rowid").fetchall()
    assert con.execute("SELECT COUNT(*) FROM observation_versions WHERE unit IS NULL").fetchone()[0] > 0
