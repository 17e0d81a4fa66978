"""A new edition of a long table read under the same rules: only the rows that changed are read and compared.

Every version read from a table row keeps a hash of the row's cells. When a spec pipeline's table changes but
its rules (spec, the sidecar's source and edition, schemas/, engine) do not, a row whose hash is still current is
restated as it was.
What a user sees must be exactly what a full read gives; these tests hold the cases where a shortcut could
differ: moved rows, a changed row repeating an unchanged row's key, and rules that changed. They hold for a full
snapshot, whose rows are looked up by their hashes, and for a small feed of corrections (not a full snapshot), whose
rows are all read and compared by key with the current versions (see `octracker.store.history.known_row_hashes`).
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from conftest import narrow_shootings, query
from octracker.extract import long_table
from octracker.load.pipeline import refresh
from octracker.store import history
from octracker.store.warehouse import open_writer

pytestmark = pytest.mark.usefixtures("backend")

HEADER = "indicator,geo,period,value,unit,qualifier,as_of,source_url,note\n"
PIPELINE = "police_shootings_table"


@pytest.fixture(params=[True, False], ids=["full-snapshot", "corrections-feed"])
def full_snapshot(request) -> bool:
    """Whether the table's spec is a full snapshot, or a feed of corrections (rows it no longer states stay)."""
    return request.param


def row(year: int, value: float) -> str:
    return f"shootings,BE-BRU,{year},{value:g},count,exact,,,\n"


EDITION_1 = [row(year, 50 + year - 2010) for year in range(2010, 2025)]


def publish_table(settings, rows: list[str], published: str = "2026-01-15", *, full_snapshot: bool = True) -> None:
    (settings.pipelines_dir / "documents" / "shootings_table.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    describe(settings, "shootings_table.csv", published, full_snapshot=full_snapshot)


def describe(settings, file_name: str, published: str, *, full_snapshot: bool = True) -> None:
    """The document's sidecar and the pipeline that reads it, a full snapshot unless told."""
    documents = settings.pipelines_dir / "documents"
    (documents / f"{file_name}.meta.toml").write_text(
        'source_id = "brussels-police-shootings-table"\nkind = "observations_long"\n'
        'title = "Shootings in Brussels, by year"\npublisher = "Brussels police statistics (test)"\n'
        f'published = "{published}"\n',
        encoding="utf-8",
    )
    (settings.pipelines_dir / f"{PIPELINE}.toml").write_text(
        'description = "Shootings by year, as a long table"\nextractor = "observations_long"\n'
        f'document = "documents/{file_name}"\nprecedence = 80\nfull_snapshot = {str(full_snapshot).lower()}\n',
        encoding="utf-8",
    )


def current(settings) -> dict[int, tuple[float, str]]:
    rows = query(
        settings, "SELECT year, value, evidence FROM observations WHERE source_id = 'brussels-police-shootings-table'"
    )
    return {year: (value, evidence) for year, value, evidence in rows}


def evidence_line(evidence: str) -> int:
    return int(re.match(r"shootings_table\.csv line (\d+): ", evidence).group(1))


@pytest.mark.parametrize("lookup_rows", [100_000, 0], ids=["hashes-looked-up", "every-hash-fetched"])
def test_a_new_edition_is_compared_row_by_row_and_moved_rows_are_not_revisions(
    scratch_project, monkeypatch, lookup_rows, full_snapshot
):
    # A table's row hashes are looked up among the current versions, or (a table of many rows) matched against all
    # of them: the same rows are restated unread either way. A feed of corrections is compared by key: its moved
    # rows stay as they are just the same.
    monkeypatch.setattr(history, "LOOKUP_ROWS", lookup_rows)
    settings = scratch_project
    publish_table(settings, EDITION_1, full_snapshot=full_snapshot)
    [first] = refresh(settings, [PIPELINE])
    assert (first.status, first.counts.new) == ("success", 15)
    before = current(settings)

    # The next edition, published a month later (its sidecar says so), lists the years newest first, revises 2015,
    # drops 2024 and adds 2025.
    edition_2 = [row(2025, 77)] + [row(y, 99 if y == 2015 else 50 + y - 2010) for y in range(2023, 2009, -1)]
    publish_table(settings, edition_2, published="2026-02-15", full_snapshot=full_snapshot)
    [second] = refresh(settings, [PIPELINE])
    counts = second.counts
    retracted = 1 if full_snapshot else 0  # a feed of corrections retracts nothing: 2024 stays
    assert (second.status, counts.new, counts.revised, counts.retracted, counts.unchanged) == (
        "success",
        1,
        1,
        retracted,
        13,
    )
    published = query(settings, "SELECT published_on FROM sources WHERE source_id = 'brussels-police-shootings-table'")
    assert [str(p) for (p,) in published] == ["2026-02-15"]

    after = current(settings)
    assert {year: value for year, (value, _) in after.items()} == {
        **{y: 50.0 + y - 2010 for y in range(2010, 2024)},
        2015: 99.0,
        2025: 77.0,
        **({} if full_snapshot else {2024: 64.0}),
    }
    # 2010 moved from line 2 to line 15 with the same cells: still the version first read, citing its line.
    assert after[2010] == before[2010] and evidence_line(after[2010][1]) == 2
    # The revised and the new row cite where the new edition states them.
    assert evidence_line(after[2015][1]) == 1 + edition_2.index(row(2015, 99)) + 1
    assert evidence_line(after[2025][1]) == 2
    versions = query(
        settings, "SELECT COUNT(*) FROM observation_history WHERE source_id = 'brussels-police-shootings-table'"
    )[0][0]
    assert versions == 15 + 2  # the revision of 2015 and the new 2025; nothing else was rewritten
    # Every moved row still cites the line it was first read from.
    assert all(after[y] == before[y] for y in range(2010, 2024) if y != 2015)


def test_a_changed_row_repeating_an_unchanged_rows_key_is_refused_as_a_full_read_refuses_it(
    scratch_project, full_snapshot
):
    settings = scratch_project
    publish_table(settings, EDITION_1, full_snapshot=full_snapshot)
    refresh(settings, [PIPELINE])
    before = current(settings)

    # A second 2020 row, with another value, after the unchanged one.
    publish_table(settings, EDITION_1 + [row(2020, 1234)], full_snapshot=full_snapshot)
    [result] = refresh(settings, [PIPELINE])
    assert result.status == "refused"
    assert "duplicate_key" in result.error and "line 17" in result.error
    reasons = query(settings, "SELECT check_name, line_no FROM quarantine WHERE pipeline = ?", [PIPELINE])
    assert reasons == [("duplicate_key", 17)]
    assert current(settings) == before


def test_when_the_rules_change_every_row_is_read_again(scratch_project, full_snapshot):
    settings = scratch_project
    publish_table(settings, EDITION_1, full_snapshot=full_snapshot)
    refresh(settings, [PIPELINE])

    # The catalog now allows at most 60 shootings; only 2010's value changes in the new edition, but the
    # unchanged rows of 2021-2024 (61-64) break the new rule and must be found.
    narrow_shootings(settings, 60)
    publish_table(settings, [row(2010, 49)] + EDITION_1[1:], full_snapshot=full_snapshot)
    [result] = refresh(settings, [PIPELINE])
    assert result.status == "refused"
    lines = [
        r[0]
        for r in query(
            settings,
            "SELECT line_no FROM quarantine WHERE pipeline = ? AND check_name = 'out_of_range' ORDER BY line_no",
            [PIPELINE],
        )
    ]
    assert lines == [13, 14, 15, 16]


def test_versions_without_a_row_hash_learn_it_on_the_next_read_and_are_restated_after(scratch_project, full_snapshot):
    settings = scratch_project
    publish_table(settings, EDITION_1, full_snapshot=full_snapshot)
    refresh(settings, [PIPELINE])
    # As a warehouse loaded before row hashes were kept (or by another engine version): no hash to match.
    with open_writer(settings) as con:
        con.execute("UPDATE observation_versions SET row_hash = NULL")
    before = current(settings)

    # The same rows in other bytes (a trailing newline): read in full, nothing revised, every hash learnt.
    publish_table(settings, EDITION_1 + ["\n"], full_snapshot=full_snapshot)
    [relearn] = refresh(settings, [PIPELINE])
    assert (relearn.status, relearn.counts.new, relearn.counts.revised, relearn.counts.unchanged) == (
        "success",
        0,
        0,
        15,
    )
    assert current(settings) == before
    assert query(settings, "SELECT COUNT(*) FROM observation_history WHERE row_hash IS NULL")[0][0] == 0

    # Now a moved row is restated, as for a table loaded with its hashes.
    publish_table(settings, EDITION_1[::-1], full_snapshot=full_snapshot)
    [moved] = refresh(settings, [PIPELINE])
    assert (moved.counts.revised, moved.counts.unchanged) == (0, 15)
    assert current(settings) == before
    assert query(settings, "SELECT COUNT(*) FROM observation_history")[0][0] == 15  # no version written again


def test_rows_cited_by_number_are_found_at_their_place_and_moved_or_inserted_rows_by_their_cells(
    scratch_project, monkeypatch
):
    # Rows cited by number (a large table), every current hash fetched: a row that kept its place is restated by
    # its place, one that moved by its cells; what the user sees is what a full read gives.
    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)
    monkeypatch.setattr(history, "LOOKUP_ROWS", 0)
    settings = scratch_project
    publish_table(settings, EDITION_1)
    [first] = refresh(settings, [PIPELINE])
    assert (first.status, first.counts.new) == ("success", 15)

    # Rows in place, 2012 revised in place, 2013 and 2014 swapped, 2024 dropped.
    values = {y: 50.0 + y - 2010 for y in range(2010, 2024)} | {2012: 88.0}
    order = [2010, 2011, 2012, 2014, 2013, *range(2015, 2024)]
    publish_table(settings, [row(y, values[y]) for y in order], published="2026-02-15")
    [second] = refresh(settings, [PIPELINE])
    counts = second.counts
    assert (second.status, counts.new, counts.revised, counts.retracted, counts.unchanged) == ("success", 0, 1, 1, 13)
    assert {year: value for year, (value, _) in current(settings).items()} == values

    # A new year at the top: every row one line down, none in its place; 2020 revised.
    values |= {2009: 40.0, 2020: 111.0}
    order = [2009, *order]
    publish_table(settings, [row(y, values[y]) for y in order], published="2026-03-15")
    [third] = refresh(settings, [PIPELINE])
    counts = third.counts
    assert (third.status, counts.new, counts.revised, counts.retracted, counts.unchanged) == ("success", 1, 1, 0, 13)
    assert {year: value for year, (value, _) in current(settings).items()} == values
    versions = query(
        settings, "SELECT COUNT(*) FROM observation_history WHERE source_id = 'brussels-police-shootings-table'"
    )[0][0]
    assert versions == 15 + 1 + 2  # 2012 revised, then 2009 new and 2020 revised; nothing else rewritten


def publish_parquet(settings, years: list[int], values: dict[int, float], published: str) -> None:
    table = pl.DataFrame(
        {
            "indicator": ["shootings"] * len(years),
            "geo": ["BE-BRU"] * len(years),
            "period": [str(y) for y in years],
            "value": [values[y] for y in years],
            "unit": ["count"] * len(years),
        }
    )
    table.write_parquet(settings.pipelines_dir / "documents" / "shootings_table.parquet")
    describe(settings, "shootings_table.parquet", published)


def test_a_large_parquet_edition_is_read_in_batches_keeping_only_the_rows_that_changed(scratch_project, monkeypatch):
    # A large Parquet table's next edition is read a batch at a time, each batch's rows in their place and unchanged
    # let go at once, never the whole table's cells at once (10M rows: 0.9 GiB less at the peak); what the user
    # sees is what a whole read gives.
    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)
    monkeypatch.setattr(long_table, "BATCH_ROWS", 4)
    monkeypatch.setattr(history, "LOOKUP_ROWS", 0)
    settings = scratch_project
    values = {y: 50.0 + y - 2010 for y in range(2010, 2025)}
    publish_parquet(settings, list(range(2010, 2025)), values, "2026-01-15")
    [first] = refresh(settings, [PIPELINE])
    assert (first.status, first.counts.new) == ("success", 15)

    whole_reads = []
    whole_read = long_table._parquet_cells
    monkeypatch.setattr(long_table, "_parquet_cells", lambda *a, **k: whole_reads.append(a) or whole_read(*a, **k))
    # 2012 revised in place, 2013 and 2014 swapped (across two batches), 2024 dropped, 2025 added at the end.
    values = {y: v for y, v in values.items() if y != 2024} | {2012: 88.0, 2025: 77.0}
    order = [2010, 2011, 2012, 2014, 2013, *range(2015, 2024), 2025]
    publish_parquet(settings, order, values, "2026-02-15")
    [second] = refresh(settings, [PIPELINE])
    counts = second.counts
    assert (second.status, counts.new, counts.revised, counts.retracted, counts.unchanged) == ("success", 1, 1, 1, 13)
    assert {year: value for year, (value, _) in current(settings).items()} == values
    assert whole_reads == []
    versions = query(
        settings, "SELECT COUNT(*) FROM observation_history WHERE source_id = 'brussels-police-shootings-table'"
    )[0][0]
    assert versions == 15 + 2  # 2012 revised and 2025 new; nothing else rewritten

    # A row repeated whole: read whole, and refused as a whole read refuses it.
    publish_parquet(settings, [*order, 2011], values, "2026-03-15")
    [third] = refresh(settings, [PIPELINE])
    assert third.status == "refused" and "duplicate_key" in third.error
    assert len(whole_reads) == 1
    assert {year: value for year, (value, _) in current(settings).items()} == values


class Unasked:
    """A connection that must not be asked anything."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the warehouse was asked ({name})")


def test_a_table_compared_by_key_is_not_looked_up_by_its_hashes(monkeypatch):
    # The lookup scans the hash of every current version of the source (100 corrections to a 10M-row history: about
    # 0.1 s); a feed of corrections compared by key is read whole instead, and its comparison finds the rows that kept
    # their version's hash (the cases above). A full snapshot, or a larger table, is looked up as before.
    monkeypatch.setattr(history, "KEYED_COMPARISON_ROWS", 3)
    few, more = pl.Series([1, 2, 3], dtype=pl.Int64), pl.Series([1, 2, 3, 4], dtype=pl.Int64)
    assert history.known_row_hashes(Unasked(), "a-source", full_snapshot=False)(few).is_empty()
    for full_snapshot, hashes in ((True, few), (False, more)):
        with pytest.raises(AssertionError, match="the warehouse was asked"):
            history.known_row_hashes(Unasked(), "a-source", full_snapshot=full_snapshot)(hashes)
