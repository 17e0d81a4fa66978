"""The bitemporal observation history: classify incoming rows and write only what changed."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import cast

import duckdb
import polars as pl
import pyarrow as pa

from octracker.content.curation import split_superseded
from octracker.extracts import ALL_CURRENT, Extract, KnownRows
from octracker.store.counts import LoadCounts
from octracker.store.findings import series_changed
from octracker.store.rows import one_row, scalar
from octracker.store.series_keys import SERIES_KEY, SeriesIds, with_series_ids

#: Columns that make one observation (the natural key).
KEY_COLUMNS = ("indicator_id", "geo", "period_start", "period_end", "source_id")
#: Columns whose change makes a new version of an observation.
VALUE_COLUMNS = ("year", "value", "unit", "qualifier", "is_partial", "as_of", "method", "evidence", "note", "flags")
#: What a version states, as against where and how it was read (evidence, method, note): a change of one of these
#: is a revision; a change of the others alone is the same statement cited anew, counted unchanged.
STATEMENT_COLUMNS = ("year", "value", "unit", "qualifier", "is_partial", "as_of", "flags")
CANONICAL_COLUMNS = (
    *KEY_COLUMNS[:4],
    "year",
    "value",
    "unit",
    "qualifier",
    "is_partial",
    "as_of",
    "source_id",
    "method",
    "evidence",
    "note",
    "flags",
)
#: What is loaded: the canonical columns, the hash of the table row that stated them and, when `evidence`
#: cites that row by reference, its number (both null for other versions).
LOADED_COLUMNS = (*CANONICAL_COLUMNS, "row_hash", "evidence_row")
#: A period of a series: the natural key without the source.
PERIOD_COLUMNS = KEY_COLUMNS[:4]
#: Loaded columns a load holds once for all its versions, in `loads` (migration 0019), with the document its versions
#: read by reference cite (their `evidence`, kept as the load's `citation`).
LOAD_COLUMNS = ("source_id", "method")
#: Loaded columns a load holds once when they are the usual ones of its versions (migration 0021): its usual unit and
#: qualifier. A version whose own is its load's stores NULL in its place, any other its own text; a version's are never
#: NULL (the canonical model requires both, and the writers refuse a version without), so a NULL is always its load's.
USUAL_COLUMNS = ("unit", "qualifier")
#: The loaded columns as DuckDB is handed them: the series' id (migration 0020) in place of its text key.
HANDED_COLUMNS = ("series_id", *(c for c in LOADED_COLUMNS if c not in SERIES_KEY))
#: The loaded columns each stored version holds itself (its `evidence` apart: NULL when it is the load's citation).
STORED_COLUMNS = tuple(c for c in HANDED_COLUMNS if c not in (*LOAD_COLUMNS, "evidence"))
#: The natural key as the stored versions hold it: the series' id in place of its text key.
STORED_KEY = ("series_id", *(c for c in KEY_COLUMNS if c not in SERIES_KEY))
#: Every version with what its load holds, by series id, and its row id in observation_versions (`version_rowid`: to
#: close it or give it a new hash without a second join on its key): warehouse/views/04_stored_versions.sql.
VERSIONS = "stored_versions"
#: The same with each series' text key, as `observation_history` shows it (warehouse/views/05_observation_history.sql).
HISTORY_BY_ID = "series_versions"

#: DuckDB's rows per row group, and the chunk of rows handed to it at once: one row group (measured on 1M
#: and 10M rows, chunks of one row group load fastest: 1M rows 1.1 s, against 2.4 s in chunks of eight).
ROW_GROUP_ROWS = 122_880
CHUNK_ROWS = ROW_GROUP_ROWS


class RestatedKeyConflict(Exception):
    """A changed row has the key of a row restated unchanged: the table states that key twice.

    Only a full read can say which rows repeat it; the caller reads the table again without `restated`.
    """


def in_row_groups(frame: pl.DataFrame) -> pa.Table:
    """The frame as Arrow chunks of whole DuckDB row groups, for DuckDB to read in place and in parallel.

    DuckDB scans an Arrow table one chunk per thread: a single chunk of ten million rows is read by one
    thread (twice the time on two cores). Chunks of arbitrary sizes, as polars reads a Parquet file,
    leave part-filled row groups, which the first checkpoint after any update rewrites (10M rows: ~10 s).
    Chunks of one row group each give both: parallel reads and full row groups.

    Text goes as Arrow's large strings: DuckDB pushes a join's filters into an Arrow scan, and pyarrow cannot
    filter a table that holds polars' string views ("no kernel matching input types (string_view, bool)").
    """
    table = frame.rechunk().to_arrow()
    return pa.Table.from_batches(table.to_batches(max_chunksize=CHUNK_ROWS), schema=table.schema)


def streamed_in_row_groups(frame: pl.DataFrame) -> pa.RecordBatchReader:
    """The frame as a stream of Arrow batches of one DuckDB row group each, made as DuckDB reads them.

    For a table DuckDB reads once, whole (a first load): unlike `in_row_groups`, no copy of the whole frame is
    made beside it, only one row group at a time (10M rows: about 0.4 GiB less at the peak). Text goes as polars'
    string views, not copied (as large strings, every text is: 2-4 s more for 10M rows); a plain scan reads them,
    a join's filters could not (see `in_row_groups`).
    """
    compat = pl.CompatLevel.newest()
    schema = frame.slice(0, 0).to_arrow(compat_level=compat).schema

    def batches() -> Iterator[pa.RecordBatch]:
        for offset in range(0, frame.height, CHUNK_ROWS):
            yield from frame.slice(offset, CHUNK_ROWS).rechunk().to_arrow(compat_level=compat).to_batches()

    return pa.RecordBatchReader.from_batches(schema, batches())


@contextlib.contextmanager
def _scratch(
    con: duckdb.DuckDBPyConnection, *temp_tables: str, also: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Drop a step's temporary tables (and run `also`, its other cleanup) when the step ends.

    A statement that fails aborts the writer's transaction, and DuckDB then refuses every statement, a
    cleanup's too, until the rollback (which also removes temp tables made in it). After a failure the
    cleanup is still tried, but its refusal must not replace the step's own error, which says what went
    wrong; after success a failing cleanup is an error of its own.
    """

    def clean() -> None:
        also()
        for table in temp_tables:
            con.execute(f"DROP TABLE IF EXISTS {table}")

    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            clean()
        raise
    clean()


def _key_match(left: str, right: str, right_prefix: str = "") -> str:
    # Periods may be unknown (NULL); a NULL period still identifies one observation.
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{right_prefix}{c}" for c in STORED_KEY)


def _same_values(left: str, right: str) -> str:
    """The versions say the same. Two references to table rows are the same evidence: the row an older edition
    kept in the raw store still states the value, so a value read again from another edition stays as it is."""
    same = [
        f"(({left}.evidence_row IS NOT NULL AND {right}.evidence_row IS NOT NULL) "
        f"OR {left}.evidence IS NOT DISTINCT FROM {right}.evidence)"
        if c == "evidence"
        else f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}"
        for c in VALUE_COLUMNS
    ]
    return " AND ".join(same)


def _same_statement(left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in STATEMENT_COLUMNS)


def loaded_columns(frame: pl.DataFrame, columns: Sequence[str] = LOADED_COLUMNS) -> pl.DataFrame:
    """The frame's `columns` (of LOADED_COLUMNS), `row_hash` and `evidence_row` from `_row_hash` and `_evidence_row`
    (null when the reader gave none)."""

    def column(name: str) -> pl.Expr:
        if name not in ("row_hash", "evidence_row"):  # series_id too: the frame has it (see `with_series_ids`)
            return pl.col(name)
        return (pl.col(f"_{name}") if f"_{name}" in frame.columns else pl.lit(None, pl.Int64)).alias(name)

    return frame.select(column(c) for c in columns)


def per_load_values(frame: pl.DataFrame, constant: Mapping[str, object]) -> dict[str, object]:
    """The loaded columns that hold one value for the whole load, with that value: those the reader declares
    (`Extract.constant`: the source, the method, a reference's citation) and the values null in every row (a row
    hash or evidence row the reader gave none of, a note or flags no row has). The writer passes them once, not per
    row; the key columns other than the source always go per row."""
    values = {c: v for c, v in constant.items() if c in LOADED_COLUMNS}
    for name in LOADED_COLUMNS:
        given = f"_{name}" if name in ("row_hash", "evidence_row") else name
        if name in values or name in KEY_COLUMNS:
            continue
        if given not in frame.columns or (frame.height and frame[given].null_count() == frame.height):
            values[name] = None
    return values


@contextlib.contextmanager
def with_per_load(con: duckdb.DuckDBPyConnection, rows: str, values: Mapping[str, object]) -> Iterator[str]:
    """`rows`, a relation of the loaded columns not in `values`, with the per-load `values` (see `per_load_values`)
    as columns: sent to DuckDB once, into a one-row temp table of the history's column types that joins every row.

    The one way both a first load and a comparison with the history take a load's values: DuckDB then holds each as
    one constant per batch of rows, where a column repeated in every row is copied, read and compared row by row.
    """
    if not values:
        yield rows
        return
    columns = ", ".join(values)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _per_load AS SELECT {columns} FROM {VERSIONS} LIMIT 0")
    with _scratch(con, "_per_load"):
        con.execute(f"INSERT INTO _per_load VALUES ({', '.join('?' * len(values))})", list(values.values()))
        yield _with_load_values(rows)


def _with_load_values(rows: str) -> str:
    """`rows` with the per-load values `with_per_load` holds, in the block it opened."""
    return f"(SELECT * FROM {rows} CROSS JOIN _per_load)"


#: Up to this many rows a frame compared with the history goes to DuckDB through the Arrow C stream interface, not as a
#: pyarrow object: DuckDB imports pyarrow's dataset module (0.1-0.3 s of a process) the first time it reads one, which a
#: publisher's file of a few ten thousand rows need not pay (see `handed_to_duckdb`); a larger frame is registered, for
#: the comparison's joins to read in place and in parallel. (A first load's parts always stream: see
#: `insert_first_versions`.)
STREAMED_ROWS = 100_000


@contextlib.contextmanager
def handed_to_duckdb(
    con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, *, copied_up_to: int
) -> Iterator[None]:
    """`table`, of columns of the history, readable as `name` in DuckDB for the block.

    Up to `copied_up_to` rows it is copied, through the Arrow C stream interface, into a temporary table of the
    history's column types: DuckDB imports pyarrow's dataset module (0.15-0.3 s) the first time it is handed a pyarrow
    object, which a few corrections to a large table need not pay, and a stream is read once. A larger table is
    registered, read in place and in parallel (see `in_row_groups`).
    """
    if table.num_rows > copied_up_to:
        con.register(name, table)

        def unregister() -> None:
            con.unregister(name)

        with _scratch(con, also=unregister):
            yield
        return
    columns = ", ".join(table.column_names)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM {VERSIONS} LIMIT 0")
    with _scratch(con, name):
        stream = f"{name}_stream"
        con.register(stream, table.__arrow_c_stream__())
        try:
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {stream}")
        finally:
            con.unregister(stream)
        yield


def current_row_hashes(con: duckdb.DuckDBPyConnection, source_id: str) -> pl.Series:
    """The row hashes of the source's current versions (those read from table rows), each at its row's place where
    the version cites its table row by number (see ALL_CURRENT)."""
    current = con.execute(
        f"SELECT row_hash, evidence_row FROM {VERSIONS} WHERE valid_to IS NULL AND source_id = ? "
        "AND row_hash IS NOT NULL",
        [source_id],
    ).pl()
    return _placed_by_row(current.get_column("row_hash"), current.get_column("evidence_row"))


def _placed_by_row(hashes: pl.Series, rows: pl.Series) -> pl.Series:
    """`hashes` with the hash of the version read from table row r at index r - 1 (null where none is), and those of
    versions without a row number, or whose place another took, after them: in the order of the table they were read
    from, which a next edition mostly keeps. Row numbers past twice the hashes' count are not placed (a sparse few
    would make a long run of nulls)."""
    placeable = rows.is_not_null() & (rows >= 1) & (rows <= 2 * hashes.len())
    at = (rows.filter(placeable) - 1).cast(pl.UInt32 if hashes.len() < 2**31 else pl.UInt64)
    size = cast(int, at.max()) + 1 if at.len() else 0
    placed = pl.repeat(None, size, dtype=hashes.dtype, eager=True).scatter(at, hashes.filter(placeable))
    # Two versions citing one row (of different documents of the source): the place keeps one, the other goes after.
    landed = placed.gather(at) == hashes.filter(placeable)
    others = pl.concat([hashes.filter(~placeable), hashes.filter(placeable).filter(~landed)])
    return pl.concat([placed, others]).rename("row_hash")


#: Up to this many rows, a table's row hashes are looked up among the current versions in DuckDB (a join that reads
#: the hash column of every current version of the source once: a full snapshot of a few thousand rows need not fetch
#: 10M hashes); above, every current hash is fetched and matched in Polars, which is as fast for a whole edition and
#: keeps its cost as measured. A table the writer compares by key is not looked up at all (see `known_row_hashes`).
LOOKUP_ROWS = 100_000


def known_row_hashes(con: duckdb.DuckDBPyConnection, source_id: str, *, full_snapshot: bool) -> KnownRows:
    """Which of a table's row hashes are those of current versions of the source (see `KnownRows`).

    No hash, without asking, for a table the writer compares by key (not `full_snapshot`, up to KEYED_COMPARISON_ROWS
    rows): every row is read and checked, and the comparison, which reads each matched version whole anyway, leaves a
    version whose row hash is the row's as it is (`same_rules` of `upsert_observations`). The lookup scans the hash
    of every current version of the source, a cost that follows the history, not the table: 100 corrections to a
    10M-row history, 76-128 ms, where reading the 100 rows whole costs a few."""

    def held(hashes: pl.Series) -> pl.Series:
        if not full_snapshot and hashes.len() <= KEYED_COMPARISON_ROWS:
            return hashes.clear()
        if hashes.len() > LOOKUP_ROWS:
            return current_row_hashes(con, source_id).rename(ALL_CURRENT)
        asked = hashes.rename("row_hash").to_frame().to_arrow()
        with handed_to_duckdb(con, "_asked_row_hashes", asked, copied_up_to=LOOKUP_ROWS):
            return (
                con.execute(
                    f"SELECT h.row_hash FROM {VERSIONS} AS h SEMI JOIN _asked_row_hashes AS a USING (row_hash) "
                    "WHERE h.valid_to IS NULL AND h.source_id = ?",
                    [source_id],
                )
                .pl()
                .get_column("row_hash")
            )

    return held


def upsert_observations(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    *,
    pipeline: str,
    run_id: str,
    source_ids: list[str],
    full_snapshot: bool,
    now: dt.datetime,
    restated: pl.Series | None = None,
    known_current: bool = False,
    unstated: pl.Series | None = None,
    constant: Mapping[str, object] | None = None,
    same_rules: bool = False,
) -> LoadCounts:
    """Insert new and revised versions, close the versions they replace; the caller owns the transaction.

    With `full_snapshot`, the incoming rows are everything the sources state now, so a current row of
    those sources that is not among them is retracted (closed, never deleted). Rows a curation superseded
    (see `octracker.content.curation`) are kept as closed versions and never become current.

    The cost follows what changed: DuckDB reads the frame in place (in chunks of one row group), the
    sources' first load is a plain insert, and a later one compares incoming and current rows in one join
    whose output, and all that is written, is the changed rows only.

    `restated` are the row hashes of table rows stated again unchanged, not in `frame` (see
    `octracker.extract.long_table`): the current versions they stated stay as they are, counted as
    unchanged. A row of `frame` with the key of such a version raises RestatedKeyConflict. `unstated`, when the
    reader knew every current hash, are those the table no longer states: the versions compared are found by them.

    `same_rules`: the rows were read under the rules of the sources' last load (see `known_row_hashes`), so a row whose
    `_row_hash` is that of its key's current version gives that version again: the comparison by key (see
    KEYED_COMPARISON_ROWS) leaves it as it is, with its evidence, counted as unchanged, as for a row `restated`.

    `known_current`: the caller found, in this write or before it, that the sources hold current versions, so the
    load is no first load and they are not asked again. (The comparison is right whatever the sources hold; only
    the first load's plain insert needs the answer of this very transaction.)

    `constant`: the columns every row of `frame` has alike, with their value (`Extract.constant`); they go to DuckDB
    once (see `with_per_load`), for the first load and the comparison alike. Rows a curation superseded are few and
    go whole.
    """
    if "flags" not in frame.columns:  # only publishers' tables carry observation flags
        frame = frame.with_columns(flags=pl.lit(None, pl.String))
    stated, superseded = split_superseded(frame)
    counts = _load_stated(
        con,
        stated,
        pipeline=pipeline,
        run_id=run_id,
        source_ids=source_ids,
        full_snapshot=full_snapshot,
        now=now,
        restated=restated,
        known_current=known_current,
        unstated=unstated,
        constant=constant or {},
        same_rules=same_rules,
    )
    closed = record_superseded(con, superseded, pipeline=pipeline, run_id=run_id, now=now)
    return replace(counts, retracted=counts.retracted + closed)


def _load_stated(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    *,
    pipeline: str,
    run_id: str,
    source_ids: list[str],
    full_snapshot: bool,
    now: dt.datetime,
    restated: pl.Series | None = None,
    known_current: bool = False,
    unstated: pl.Series | None = None,
    constant: Mapping[str, object],
    same_rules: bool = False,
) -> LoadCounts:
    current = _current(source_ids)
    per_load = per_load_values(frame, constant)
    # One value in every row: compared with the first, not counted (hashing every text of a large frame).
    alike = [c for c in LOAD_COLUMNS if c not in per_load and frame.height]
    if alike:
        same = frame.select(pl.col(c).eq_missing(pl.col(c).first()).all() for c in alike).row(0)
        per_load.update({c: frame[c][0] for c, one in zip(alike, same, strict=True) if one})
    first_load = not known_current and not holds_current(con, source_ids)
    if first_load and all(isinstance(per_load.get(c), str) for c in LOAD_COLUMNS):
        # The sources' first load: a plain insert, as a first load read in parts (here in one part).
        met: set[int] = set()
        insert_first_versions(
            con, iter([Extract(frame, constant=per_load)]), pipeline=pipeline, run_id=run_id, now=now, met=met
        )
        first_load_done(con, source_ids, met)
        return LoadCounts(new=frame.height)
    frame = with_series_ids(con, frame)
    # The series a few rows hold, for the keyed comparison (see `_classify`): listed here, not asked of DuckDB.
    series_ids = (
        frame.get_column("series_id").unique().drop_nulls().sort().to_list()
        if frame.height <= KEYED_COMPARISON_ROWS
        else None
    )
    handed = loaded_columns(frame, [c for c in HANDED_COLUMNS if c not in per_load])
    # Registered, read in place: the comparison keeps each changed row's key, not a copy of its columns, and the rows
    # to insert are taken from the frame by their keys (see `_classify`).
    by_key = frame.height > STREAMED_ROWS
    rows = in_row_groups(handed)

    registered: list[str] = []

    def unregister() -> None:
        for name in registered:
            con.unregister(name)

    def rows_of(keys: pl.DataFrame | None) -> str:
        """The rows of `incoming` of these keys (STORED_KEY; None: all of them), in the frame's order.

        Taken from the frame in Polars and handed over, as the frame was: read twice in place (the load's usual
        units, the insert), dense, in parallel, where a semi join in DuckDB would read every incoming row twice (a
        table read whole after an engine change: 10M rows for its 1M changed). By key, not by a row number handed
        with the frame: a column more in a 10M-row frame turned DuckDB's comparison of it from 2.5-2.8 s to
        4.5-4.7 s (it joins the wider side otherwise). A source given once for the load is every row's."""
        if keys is None:
            return incoming
        on = [c for c in STORED_KEY if c in handed.columns]
        keys = keys.select(pl.col(c).cast(handed.schema[c]) for c in on)
        picked = handed.join(keys, on=on, how="semi", nulls_equal=True, maintain_order="left")
        con.register("_picked", in_row_groups(picked))
        registered.append("_picked")
        return _with_load_values("_picked") if per_load else "_picked"

    with (
        handed_to_duckdb(con, "_incoming", rows, copied_up_to=STREAMED_ROWS),
        _scratch(con, "_changes", "_live", also=unregister),
        with_per_load(con, "_incoming", per_load) as incoming,
    ):
        if first_load:
            # A first load of rows of several sources or methods: a plain insert too, one load for each.
            _insert_versions(con, incoming, pipeline=pipeline, run_id=run_id, now=now)
            first_load_done(con, source_ids)
            return LoadCounts(new=frame.height)
        if restated is None or restated.is_empty():
            return _apply_changes(
                con,
                incoming,
                current,
                source_ids,
                frame.height,
                pipeline=pipeline,
                run_id=run_id,
                full_snapshot=full_snapshot,
                now=now,
                rows_of=rows_of if by_key else None,
                series_ids=series_ids,
                same_rules=same_rules,
            )
        # The versions the table restates stay current untouched; only the others (read from rows that
        # changed or are gone, or from no table row) are compared with the incoming rows.
        con.register("_restated", restated.to_frame("row_hash"))
        registered.append("_restated")
        if unstated is not None:
            # With a null: the versions read from no table row are always among those compared.
            con.register("_unstated", unstated.append(pl.Series([None], dtype=unstated.dtype)).to_frame("row_hash"))
            registered.append("_unstated")
        if _restates_all(con, current, source_ids, [restated] if unstated is None else [restated, unstated]):
            live = f"SELECT * FROM ({current}) WHERE row_hash IS NULL"
            if unstated is not None:
                # The versions the table no longer states, found by their hashes: a semi join with the few of them,
                # not an anti join with the many restated; kept apart, so that the comparison's plan stays as it is.
                # Found among the versions as stored, then joined to their loads (see `_as_read`): through
                # stored_versions, every current version (10M of a CBS-like table's daily edition, for its 100,645
                # unstated) went through the join with its load and the view's projection before the semi join
                # (0.67-0.77 s of CPU, 0.42-0.58 s so; loaded machine).
                unstated_versions = (
                    "(SELECT o.*, o.rowid AS version_rowid FROM observation_versions AS o "
                    "SEMI JOIN _unstated AS u ON o.row_hash IS NOT DISTINCT FROM u.row_hash "
                    f"WHERE {_stored_current(source_ids)})"
                )
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _live AS SELECT * FROM {_as_read(unstated_versions)}", source_ids
                )
                live = f"SELECT * FROM _live WHERE {_in_sources(source_ids)}"
        else:
            # A null hash matches nothing: versions read from no table row stay among those compared.
            live = f"SELECT * FROM ({current}) ANTI JOIN _restated USING (row_hash)"
        counts = _apply_changes(
            con,
            incoming,
            live,
            source_ids,
            frame.height,
            pipeline=pipeline,
            run_id=run_id,
            full_snapshot=full_snapshot,
            now=now,
            stated_elsewhere=current,
            rows_of=rows_of if by_key else None,
            series_ids=series_ids,
            same_rules=same_rules,
        )
        return replace(counts, unchanged=counts.unchanged + restated.len())


def holds_current(con: duckdb.DuckDBPyConnection, source_ids: list[str]) -> bool:
    """Whether any of these sources has a current version (else its next load is a first load).

    Asked of the versions of the sources' loads, without joining them to their loads (stored_versions does): the
    scan, filtered on those load ids, stops at the first current one (a 10M-row history, cold: 2.5 ms against
    4-12 ms through the view)."""
    return bool(
        scalar(
            con,
            f"SELECT EXISTS (SELECT 1 FROM observation_versions WHERE {_stored_current(source_ids)})",
            source_ids,
        )
    )


def _stored_current(source_ids: list[str]) -> str:
    """A condition on observation_versions as stored: the current versions of these sources' loads (a `?` per
    source). The filter on load ids reaches the scan, so it is read without joining every version to its load."""
    return f"valid_to IS NULL AND load_id IN (SELECT load_id FROM loads WHERE {_in_sources(source_ids)})"


def _current(source_ids: list[str]) -> str:
    # `version_rowid` finds a replaced version again without a second join on its key (see `_apply_changes`).
    return f"SELECT * FROM {VERSIONS} WHERE valid_to IS NULL AND {_in_sources(source_ids)}"


def _in_sources(source_ids: list[str]) -> str:
    """A condition on `source_id` with a placeholder for each of `source_ids`."""
    return f"source_id IN ({', '.join('?' for _ in source_ids) or 'NULL'})"


#: Parts of a first load read by one INSERT. DuckDB takes a stream in faster than it writes it, and holds what it
#: took meanwhile: all of a 10M-row table as one stream peaked at 1.1 GiB, one INSERT per part at 0.5 GiB but in more
#: time, as reading the next part no longer overlaps with writing the last.
PARTS_PER_INSERT = 8


def insert_first_versions(
    con: duckdb.DuckDBPyConnection,
    parts: Iterator[Extract],
    *,
    pipeline: str,
    run_id: str,
    now: dt.datetime,
    stage: Callable[[Callable[[], object]], object] | None = None,
    met: set[int] | None = None,
) -> int:
    """Insert every row of the parts' frames as a new current version: a source's first load, read in parts.
    Returns the rows; `met`, when given, gets the id of every series they hold (for `first_load_done`).

    Each INSERT reads PARTS_PER_INSERT parts as one stream, each part made (read, checked) only when DuckDB asks for
    it, so the memory follows the parts, not the table; an exception from `parts` fails the INSERT, and the caller
    rolls back. The caller owns the transaction, holds that the source had no current version before it, that the
    parts state no key twice and that no curation applies, and calls `first_load_done` after.

    With `stage`, each INSERT is handed to it as work to run, and `stage` runs it in a transaction of its own: the
    load committed in stages (see `octracker.store.staging`), which the caller then owns, their removal on failure
    included.

    The columns the first part declares constant (`Extract.constant`: the source, the method, a reference's
    citation) are passed once (see `with_per_load`), not as columns of one value repeated in every row; every part
    must declare the same. Text streams as polars' string views: DuckDB reads the parts once, in a plain scan.
    """
    first = next(parts, None)
    if first is None:
        return 0
    _refuse_missing_usual(first)
    # Only what the parts declare: a column null in the first part may not be in the next.
    constant = {c: v for c, v in first.constant.items() if c in LOADED_COLUMNS}
    if not all(isinstance(constant.get(c), str) for c in LOAD_COLUMNS):
        raise ValueError(
            f"a first load in parts declares its {' and '.join(LOAD_COLUMNS)}; its parts declare {constant}"
        )
    # The load's usual unit and qualifier: those the parts declare, else the commonest of the first part's.
    usual = {c: constant[c] if c in constant else _commonest(first.frame, c) for c in USUAL_COLUMNS}
    # The load's own values go to `loads`, the other constant ones once per INSERT (see `with_per_load`).
    source_id, method = (str(constant.pop(c)) for c in LOAD_COLUMNS)
    citation = constant.pop("evidence", None)
    if citation is not None and not isinstance(citation, str):
        raise ValueError(f"a first load's citation is a text; its parts declare {citation!r}")
    evidence = "evidence" if citation is None else "NULL"
    streamed = [c for c in HANDED_COLUMNS if c not in constant and c not in LOAD_COLUMNS]
    if citation is not None:
        streamed.remove("evidence")
    # Each part's series ids are found as DuckDB reads it (DuckDB cannot be asked meanwhile): every series the
    # warehouse knows is read once before, and those new to it are listed after each INSERT, in its transaction.
    series = SeriesIds.read(con)

    def with_ids(frame: pl.DataFrame) -> pl.DataFrame:
        if "series_id" not in frame.columns:
            return frame.with_columns(series.of(frame))
        if met is not None:
            met.update(frame.get_column("series_id").unique().to_list())
        return frame

    schema = streamed_in_row_groups(loaded_columns(with_ids(first.frame.slice(0, 0)), streamed)).schema
    rows = 0

    def batches(group: Iterator[Extract]) -> Iterator[pa.RecordBatch]:
        nonlocal rows
        for part in group:
            if part.constant != first.constant:
                raise ValueError(
                    f"a part of a first load holds other per-load values ({part.constant}) than the first "
                    f"({first.constant})"
                )
            _refuse_missing_usual(part)
            rows += part.frame.height
            yield from streamed_in_row_groups(loaded_columns(with_ids(part.frame), streamed))

    remaining = itertools.chain([first], parts)
    with with_per_load(con, "parts_read", constant) as incoming:
        insert = (
            f"INSERT INTO observation_versions ({', '.join(STORED_COLUMNS)}, evidence, load_id, valid_to) "
            f"SELECT {_as_stored('', '?')}, {evidence}, ?, NULL FROM {incoming}"
        )

        def insert_read(parts_read: object) -> None:
            # In each stage's transaction (listed once): a stage commits its rows with their load.
            loaded, held = register_load(
                con,
                pipeline=pipeline,
                run_id=run_id,
                source_id=source_id,
                method=method,
                citation=citation,
                now=now,
                usual=usual,
            )
            # A local name, found by DuckDB's replacement scan: a view registered inside the transaction would keep
            # what it read alive until the commit.
            con.execute(insert, [*(held[c] for c in USUAL_COLUMNS), loaded])
            series.write_new(con)

        while (head := next(remaining, None)) is not None:
            group = itertools.chain([head], itertools.islice(remaining, PARTS_PER_INSERT - 1))
            # Through the Arrow C stream interface, whatever the size: DuckDB reads the parts once, in a plain scan,
            # and a pyarrow reader would only have it import pyarrow's dataset module first (0.03-0.1 s of CPU before
            # the first row is inserted; see STREAMED_ROWS).
            read = pa.RecordBatchReader.from_batches(schema, batches(group)).__arrow_c_stream__()
            if stage is None:
                insert_read(read)
            else:
                stage(functools.partial(insert_read, read))
    if met is not None:
        met.update(series.met)
    return rows


def first_load_done(
    con: duckdb.DuckDBPyConnection, source_ids: list[str], series_ids: Collection[int] | None = None
) -> None:
    """After the last part of a first load (`insert_first_versions`): the periods other sources state too, and the
    alert findings of the series loaded.

    `series_ids`, the ids of the series the load of one source wrote (its `met`), spare reading every row it wrote
    again to find them (a scan of the whole load: 0.02-0.04 s of a 1M-row first load)."""
    if series_ids is not None and len(source_ids) == 1:
        # Through the Arrow stream interface, as `SeriesIds.write_new` lists series (a list parameter is converted
        # value by value).
        met = pl.DataFrame({"series_id": sorted(series_ids)}, schema={"series_id": pl.Int64})
        con.register("_series_met", met.__arrow_c_stream__())
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _loaded_series AS SELECT k.indicator_id, k.geo, ? AS source_id "
                "FROM series_keys AS k SEMI JOIN _series_met AS m USING (series_id)",
                source_ids,
            )
        finally:
            con.unregister("_series_met")
    else:
        # The rows loaded are read once, for their series.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _loaded_series AS SELECT k.indicator_id, k.geo, c.source_id "
            f"FROM (SELECT DISTINCT series_id, source_id FROM ({_current(source_ids)})) AS c "
            "JOIN series_keys AS k USING (series_id)",
            source_ids,
        )
    # The periods are read again only if another source states current values of the same indicators (see
    # `periods_gained`).
    with _scratch(con, "_loaded_series"):
        series_changed(con, "SELECT * FROM _loaded_series")
        periods_gained(
            con,
            f"SELECT * FROM observation_history WHERE valid_to IS NULL AND {_in_sources(source_ids)}",
            source_ids,
            params=source_ids,
            indicators="SELECT DISTINCT indicator_id FROM _loaded_series",
        )


def _restates_all(con: duckdb.DuckDBPyConnection, current: str, source_ids: list[str], told: list[pl.Series]) -> bool:
    """Whether the hashes `told` (the restated, with the unstated when the reader knew every current hash) are the row
    hash of every current version that `current` selects and has one.

    The usual re-read of a table in which nothing changed: it spares an anti join of ten million hashes with the
    current versions (the load of a re-encoded 10M table: about 1 s without this, 0.2-0.3 s with it). The table
    reader hands over distinct hashes, each found among these versions' hashes when it read them, so an equal
    count means the same hashes; an equal sum as well guards against another writer having changed these
    versions since then. The hashes told are counted and summed where they are, in Polars (10M: 0.02 s of CPU,
    against 0.3 s for DuckDB to scan them from Polars), the current ones in DuckDB.
    """
    count = sum(s.len() - s.null_count() for s in told)
    total = sum(int(s.cast(pl.Int128).sum()) for s in told) if count else None  # DuckDB's SUM of no rows: NULL
    # DuckDB sums BIGINTs as a HUGEINT (no overflow): a cast of each hash first cost 0.1 s of CPU for 10M, 0.04 s so.
    (held,) = one_row(con, f"SELECT [COUNT(row_hash), SUM(row_hash)] FROM ({current})", source_ids)
    return list(held) == [count, total]


def _apply_changes(
    con: duckdb.DuckDBPyConnection,
    incoming: str,
    current: str,
    source_ids: list[str],
    incoming_rows: int,
    *,
    pipeline: str,
    run_id: str,
    full_snapshot: bool,
    now: dt.datetime,
    stated_elsewhere: str | None = None,
    rows_of: Callable[[pl.DataFrame | None], str] | None = None,
    series_ids: list[int] | None = None,
    same_rules: bool = False,
) -> LoadCounts:
    """Classify the `incoming` rows against the `current` versions, close the replaced or retracted ones, insert the
    new ones.

    `stated_elsewhere` (all current versions, when `current` leaves out those restated unchanged): a row
    new to `current` must not have the key of any of them (RestatedKeyConflict). `rows_of`: the rows of `incoming`
    of some keys (None: all) as a relation, to insert; `_changes` then holds only their keys (see `_classify`).
    `series_ids`: the distinct ids of the incoming rows' series, when the caller has them (else DuckDB is asked).
    `same_rules`: see `upsert_observations`.
    """
    keyed = not full_snapshot and incoming_rows <= KEYED_COMPARISON_ROWS
    rows_of = None if keyed else rows_of
    with _scratch(con, "_matched", "_matched_versions"), _row_id_filters(con, incoming_rows if keyed else 0):
        _classify(
            con,
            incoming,
            current,
            source_ids,
            full_snapshot=full_snapshot,
            keyed=keyed,
            narrow=rows_of is not None,
            series_ids=series_ids,
            same_rules=same_rules,
        )
        return _write_changes(
            con,
            source_ids,
            incoming_rows,
            pipeline=pipeline,
            run_id=run_id,
            now=now,
            stated_elsewhere=stated_elsewhere,
            rows_of=rows_of,
            read=MATCHED_VERSIONS if keyed else None,
        )


#: Up to this many incoming rows (a feed of corrections, not a snapshot), the comparison finds the current versions
#: they replace by their key, reading only the key columns, then reads those versions whole by row id; above it, one
#: join reads every current version whole. 100 corrections to a table of 10M rows: 0.3 s against 0.6-1.1 s.
KEYED_COMPARISON_ROWS = 2048
#: The current versions the keyed comparison found, as stored (every column of observation_versions) with their row id
#: (`version_rowid`): read once, for the comparison and for the copies that close them (see `_close_versions`).
MATCHED_VERSIONS = "_matched_versions"


@contextlib.contextmanager
def _row_id_filters(con: duckdb.DuckDBPyConnection, rows: int) -> Iterator[None]:
    """Let a join whose other side has up to `rows` rows pass their values to the table scan as a filter.

    DuckDB does so for joins with at most 50 rows on one side (`dynamic_or_filter_threshold`); a scan filtered
    on row ids reads only the row groups, and vectors, that hold them. `rows` 0 leaves the setting alone.
    """
    if rows <= 50:
        yield
        return
    if rows <= int(scalar(con, "SELECT current_setting('dynamic_or_filter_threshold')")):
        yield  # a step inside another that let as many through
        return
    with _setting(con, "dynamic_or_filter_threshold", int(rows)):
        yield


@contextlib.contextmanager
def _in_any_order(con: duckdb.DuckDBPyConnection, free: bool) -> Iterator[None]:
    """With `free`, let DuckDB write the statements of the block in any order, on every thread (see `_classify`)."""
    if not free:
        yield
        return
    with _setting(con, "preserve_insertion_order", False):
        yield


@contextlib.contextmanager
def _setting(con: duckdb.DuckDBPyConnection, name: str, value: int | bool) -> Iterator[None]:
    """DuckDB's setting `name` (one of this module's) at `value` for the block, then as it was before."""
    before = scalar(con, "SELECT current_setting(?)", [name])
    con.execute(f"SET {name} = ?", [value])
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"SET {name} = ?", [before])


def _classify(
    con: duckdb.DuckDBPyConnection,
    incoming: str,
    current: str,
    source_ids: list[str],
    *,
    full_snapshot: bool,
    keyed: bool,
    narrow: bool = False,
    series_ids: list[int] | None = None,
    same_rules: bool = False,
) -> None:
    """`_changes`: each `incoming` row that is new or differs from the current version of its key, with that version's
    key and row id; with `full_snapshot`, also each current version no longer stated (retracted).

    `narrow` (a large frame): each row's key and hash only, not its values, in no set order. The join's output is
    sparse (1M revised rows of 10M current versions: a tenth of each chunk of the scan), and DuckDB appends it to the
    table chunk by chunk, column by column, on one thread to keep the order: writing every column of a million rows
    so cost 0.7 s of CPU, a second read of them in the writer's transaction one thread again. The rows to insert are
    taken from the frame by key instead (see `_write_changes`), in the frame's order.

    `keyed` and `same_rules` (see `upsert_observations`): a row whose hash is its version's is no change.
    """
    # Read under the rules of the last load, a row whose cells hash as its version's did gives that version again: it
    # stays as it is, with its evidence (a row moved in a CSV cites its old line), as a row the reader was told is
    # held current (`restated`) stays. Only where the versions are read by key: a table compared by one join with
    # every current version is looked up by its hashes before (see `known_row_hashes`).
    unchanged = " AND (i.row_hash = h.row_hash) IS NOT TRUE" if keyed and same_rules else ""
    if keyed:
        # The key columns of the current versions of the incoming rows' series only (found by their ids: DuckDB
        # skips the row groups that hold none of them), then the versions found read whole by row id.
        keys = ", ".join(STORED_KEY)
        if series_ids is None:
            series_ids = scalar(con, f"SELECT list(DISTINCT series_id ORDER BY series_id) FROM {incoming}")
        if current == _current(source_ids):
            # Found by their ids before their loads are joined (see stored_versions_in).
            scoped = (
                f"SELECT * FROM stored_versions_in(?::BIGINT[]) WHERE valid_to IS NULL AND {_in_sources(source_ids)}"
            )
            scoped_params = [series_ids, *source_ids]
        else:
            scoped = f"SELECT * FROM ({current}) WHERE series_id IN (SELECT unnest(?::BIGINT[]))"
            scoped_params = [*source_ids, series_ids]
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _matched AS
            SELECT i.*, h.version_rowid AS _match_rowid
            FROM {incoming} AS i LEFT JOIN (SELECT {keys}, version_rowid FROM ({scoped})) AS h ON {_key_match("i", "h")}
            """,
            scoped_params,
        )
        # Read whole by row id once (the scan reads only the vectors that hold them), for the comparison here and for
        # the copies that close the replaced ones: the closing's own read by row id cost 8-9 ms of wall time of 100
        # corrections to a 10M-row history, and the comparison joined every version of those vectors to its load
        # (200,000 rows), where it now joins the 100.
        # Their evidence is read only where a version may store its own (see `_read_own_evidence`).
        own, cited = one_row(
            con,
            "SELECT COALESCE(bool_or(citation IS NULL), false), COALESCE(bool_or(citation IS NOT NULL), false) "
            f"FROM loads WHERE {_in_sources(source_ids)}",
            source_ids,
        )
        evidence = " REPLACE (CAST(NULL AS VARCHAR) AS evidence)" if cited else ""
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {MATCHED_VERSIONS} AS SELECT *{evidence}, rowid AS version_rowid "
            "FROM observation_versions WHERE rowid IN (SELECT _match_rowid FROM _matched)"
        )
        if cited and own:
            _read_own_evidence(con, MATCHED_VERSIONS)
        incoming = "_matched"
        join, versions, on, params = ("LEFT JOIN", _as_read(MATCHED_VERSIONS), "h.version_rowid = i._match_rowid", [])
    else:
        # A full snapshot also finds current rows no longer stated (the outer side of the join): retractions.
        join = "FULL OUTER JOIN" if full_snapshot else "LEFT JOIN"
        versions, on, params = f"({current})", _key_match("i", "h"), source_ids
    current_keys = ", ".join(f"h.{c} AS _h_{c}" for c in (*STORED_KEY, "version_rowid"))
    columns = "i.*" if not keyed else "i.* EXCLUDE (_match_rowid)"
    if narrow:
        columns = ", ".join(f"i.{c}" for c in (*STORED_KEY, "row_hash"))
    with _in_any_order(con, narrow):
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _changes AS
            SELECT CASE WHEN i.series_id IS NULL THEN 'retracted'
                        WHEN h.series_id IS NULL THEN 'new'
                        WHEN NOT ({_same_statement("i", "h")}) THEN 'revised'
                        WHEN NOT ({_same_values("i", "h")}) THEN 'restated'
                        ELSE 'rehashed' END AS change,
                   {columns}, {current_keys}
            FROM {incoming} AS i
            {join} {versions} AS h ON {on}
            WHERE (i.series_id IS NULL OR h.series_id IS NULL OR NOT ({_same_values("i", "h")})
               -- The same values from a row whose cells hash otherwise (another engine or library version):
               -- the version stays, with the new hash, so that the next edition can restate it.
               OR (i.row_hash IS NOT NULL AND i.row_hash IS DISTINCT FROM h.row_hash)){unchanged}
            """,
            params,
        )


def _read_own_evidence(con: duckdb.DuckDBPyConnection, versions: str) -> None:
    """Fill in the `evidence` of the `versions` (read without it, see MATCHED_VERSIONS) that may store their own: those
    of a load without a citation, read by row id.

    A load that cites its table rows by reference holds their evidence as its citation, and its versions store NULL
    in its place (every writer stores NULLIF(evidence, citation), migration 0019 likewise). A large table's history
    so holds an `evidence` column of NULLs, in blocks of its own in every row group all the same (ZSTD is forced on it,
    migration 0021): 100 corrections to a 10M-row history, read by row id from 80 of its 82 row groups, loaded 24 MB
    more with it, 14-17 ms of CPU (the read alone 92 -> 77 ms). The comparison reads the versions without their
    evidence when a load of their sources has a citation, and fills it in here when another has none; the versions
    of sources whose loads all store their evidence are read whole at once, as before (read apart, 100 of them cost
    5 ms more)."""
    own = scalar(
        con,
        f"SELECT list(v.version_rowid) FROM {versions} AS v JOIN loads AS l USING (load_id) WHERE l.citation IS NULL",
    )
    if not own:
        return
    with _row_id_filters(con, len(own)):
        con.execute(
            f"UPDATE {versions} AS v SET evidence = o.evidence FROM (SELECT rowid AS version_rowid, evidence "
            "FROM observation_versions WHERE rowid IN (SELECT unnest(?::BIGINT[]))) AS o "
            "WHERE v.version_rowid = o.version_rowid",
            [own],
        )


def _write_changes(
    con: duckdb.DuckDBPyConnection,
    source_ids: list[str],
    incoming_rows: int,
    *,
    pipeline: str,
    run_id: str,
    now: dt.datetime,
    stated_elsewhere: str | None,
    rows_of: Callable[[pl.DataFrame | None], str] | None = None,
    read: str | None = None,
) -> LoadCounts:
    """Close the versions `_changes` replaces or retracts, insert its new versions, keep the periods in step.

    `rows_of`: `_changes` holds the keys of its rows, not their values; this gives the rows of some keys (None: all)
    as a relation. `read`: a table holding every version `_changes` replaces as stored (see MATCHED_VERSIONS)."""
    counts = dict(con.execute("SELECT change, COUNT(*) FROM _changes GROUP BY change").fetchall())
    # A value stated again as it was, only with other evidence, method or note, is a new version of it but no
    # revision: it counts as unchanged (a table whose rows moved down one line revises nothing).
    new, revised, restated, retracted = (counts.get(k, 0) for k in ("new", "revised", "restated", "retracted"))
    if new and stated_elsewhere is not None:
        repeated = scalar(
            con,
            f"SELECT COUNT(*) FROM _changes AS c JOIN ({stated_elsewhere}) AS h ON {_key_match('c', 'h')} "
            "WHERE c.change = 'new'",
            source_ids,
        )
        if repeated:
            raise RestatedKeyConflict(f"{repeated} changed rows have the key of a row stated unchanged")
    if new or revised or restated or retracted:
        # The distinct series first, by their ids: then only their few text keys (a million rows' keys made
        # distinct as text: 0.14-0.2 s on one thread).
        series_changed(
            con,
            "SELECT k.indicator_id, k.geo, c.source_id FROM (SELECT DISTINCT COALESCE(series_id, _h_series_id) AS "
            "series_id, COALESCE(source_id, _h_source_id) AS source_id FROM _changes WHERE change <> 'rehashed') AS c "
            "JOIN series_keys AS k USING (series_id)",
        )
    if revised or restated or retracted:
        _close_versions(
            con,
            "SELECT _h_version_rowid FROM _changes WHERE change IN ('revised', 'restated', 'retracted')",
            revised + restated + retracted,
            now,
            read=read,
        )
    if counts.get("rehashed"):
        con.execute(
            """
            UPDATE observation_versions AS h SET row_hash = c.row_hash
            FROM (SELECT _h_version_rowid, row_hash FROM _changes WHERE change = 'rehashed') AS c
            WHERE h.rowid = c._h_version_rowid
            """
        )
    if new or revised or restated:
        inserted = "(SELECT * FROM _changes WHERE change IN ('new', 'revised', 'restated'))"
        if rows_of is not None:
            # All its rows (a revision's, each changed): the relation itself, read in place; else those of the keys.
            keys = (
                None
                if new + revised + restated == incoming_rows
                else con.execute(
                    f"SELECT {', '.join(STORED_KEY)} FROM _changes WHERE change IN ('new', 'revised', 'restated')"
                ).pl()
            )
            inserted = rows_of(keys)
        _insert_versions(
            con,
            inserted,
            pipeline=pipeline,
            run_id=run_id,
            now=now,
        )
    # A revised or restated value keeps its period and source: only new and retracted rows change who states a period.
    if retracted:
        periods_lost(
            con,
            "SELECT k.indicator_id, k.geo, c._h_period_start AS period_start, c._h_period_end AS period_end "
            "FROM _changes AS c JOIN series_keys AS k ON k.series_id = c._h_series_id WHERE c.change = 'retracted'",
        )
    if new:
        periods_gained(
            con,
            "SELECT k.indicator_id, k.geo, c.period_start, c.period_end, c.source_id "
            "FROM _changes AS c JOIN series_keys AS k USING (series_id) WHERE c.change = 'new'",
            source_ids,
        )
    return LoadCounts(new=new, revised=revised, unchanged=incoming_rows - new - revised, retracted=retracted)


#: Up to this many versions are closed by writing them again, closed, in place of the current ones; more are closed
#: where they are (see `_close_versions`).
REWRITTEN_CLOSINGS = KEYED_COMPARISON_ROWS


def _close_versions(
    con: duckdb.DuckDBPyConnection, rowids: str, rows: int, now: dt.datetime, *, read: str | None = None
) -> None:
    """Close at `now` the `rows` versions whose row ids in observation_versions `rowids` selects; in the writer's
    transaction. `read`: a table that holds them already, as stored, with their row id as `version_rowid` (see
    MATCHED_VERSIONS), the copies are taken from.

    A version closed where it is changes its `valid_to` in its row group, and the next checkpoint writes that column
    of every row group touched again: 100 corrections spread over a 10M-row history touched 80 of its 82 row groups
    (the checkpoint alone 0.07-0.17 s of CPU). Up to REWRITTEN_CLOSINGS versions are instead read by row id, taken
    out and written again, closed, beside the new versions: each row group touched keeps its columns and gains a mark
    of the row taken out (the checkpoint 0.02-0.03 s). Closing and checkpoint of those 100: 0.17 s of CPU in place,
    0.09 s written again (medians of 6 in turn). The history holds the same versions either way (a version's row id
    is no part of it). A larger revision (a tenth of a 10M-row table) closes its versions where they are, as before:
    writing a million versions again was not measured.
    """
    if rows > REWRITTEN_CLOSINGS:
        con.execute(f"UPDATE observation_versions SET valid_to = ? WHERE rowid IN ({rowids})", [now])
        return
    with _row_id_filters(con, rows), _scratch(con, "_closing_versions"):
        if read is None:
            # Read by row id: the scan reads only the vectors that hold them (see `_row_id_filters`).
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _closing_versions AS "
                f"SELECT *, rowid AS version_rowid FROM observation_versions WHERE rowid IN ({rowids})"
            )
            read = "_closing_versions"
        con.execute(f"DELETE FROM observation_versions WHERE rowid IN ({rowids})")
        con.execute(
            "INSERT INTO observation_versions BY NAME SELECT * EXCLUDE (version_rowid) REPLACE "
            f"(CAST(? AS TIMESTAMP) AS valid_to) FROM {read} WHERE version_rowid IN ({rowids})",
            [now],
        )


def load_id(run_id: str, source_id: str, method: str, citation: str | None, valid_from: dt.datetime) -> int:
    """The id of the load of these values: a 63-bit number derived from them, so that writers need not agree on a
    next number (two writers of a lake each read the same largest one)."""
    key = json.dumps([run_id, source_id, method, citation, valid_from.isoformat()])
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") >> 1


def register_load(
    con: duckdb.DuckDBPyConnection,
    *,
    pipeline: str,
    run_id: str,
    source_id: str,
    method: str,
    citation: str | None,
    now: dt.datetime,
    usual: Mapping[str, object],
) -> tuple[int, dict[str, object]]:
    """The id of the run's load of these values, listed in `loads` unless it is already, and its usual unit and
    qualifier (USUAL_COLUMNS): `usual` for a load listed now, those listed before for one already there (a run may
    write one load in several steps: the versions it writes are stored against what the load holds); in the writer's
    transaction."""
    loaded = load_id(run_id, source_id, method, citation, now)
    con.execute(
        "INSERT INTO loads (load_id, run_id, pipeline, source_id, method, citation, valid_from, unit, qualifier) "
        "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM loads WHERE load_id = ?)",
        [loaded, run_id, pipeline, source_id, method, citation, now, *(usual[c] for c in USUAL_COLUMNS), loaded],
    )
    held = one_row(con, "SELECT unit, qualifier FROM loads WHERE load_id = ?", [loaded])
    return loaded, dict(zip(USUAL_COLUMNS, held, strict=True))


def _as_stored(row: str, usual: str) -> str:
    """The STORED_COLUMNS of a relation (`row`: its alias and a dot, or nothing) as a version stores them: a unit or
    qualifier equal to its load's usual one (`usual`: `?`, or the load's alias and a dot) as NULL."""
    usual_of = {c: "?" if usual == "?" else f"{usual}{c}" for c in USUAL_COLUMNS}
    return ", ".join(f"NULLIF({row}{c}, {usual_of[c]})" if c in usual_of else f"{row}{c}" for c in STORED_COLUMNS)


def _as_read(versions: str) -> str:
    """`versions`, a table of versions as stored (see MATCHED_VERSIONS), as stored_versions shows them: what a version
    holds in its load's place (its usual unit and qualifier, its citation: NULL) and its load's source and method
    (warehouse/views/04_stored_versions.sql)."""
    read = ", ".join(f"COALESCE(v.{c}, l.{c}) AS {c}" for c in USUAL_COLUMNS)
    return (
        f"(SELECT v.* REPLACE ({read}, COALESCE(v.evidence, l.citation) AS evidence), "
        f"{', '.join(f'l.{c}' for c in LOAD_COLUMNS)} FROM {versions} AS v JOIN loads AS l USING (load_id))"
    )


def _commonest(frame: pl.DataFrame, column: str) -> object:
    """The value of `column` most rows of `frame` hold (the least of those tied), None for no rows."""
    commonest = frame.get_column(column).drop_nulls().mode().sort()
    return commonest[0] if commonest.len() else None


def _refuse_missing_usual(part: Extract) -> None:
    """Refuse a part of a first load with a version without a unit or qualifier: stored as NULL, it would read as its
    load's usual one (see USUAL_COLUMNS). The canonical model refuses such a row before."""
    for column in USUAL_COLUMNS:
        if missing := part.frame.get_column(column).null_count():
            raise ValueError(f"{missing} versions of a load have no {column}")


#: The citation of a loaded row (a relation `r` of the loaded columns): its evidence when it cites a table row by
#: reference; the same for every row of such a load.
CITATION = "CASE WHEN r.evidence_row IS NOT NULL THEN r.evidence END"


def _insert_versions(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    *,
    pipeline: str,
    run_id: str,
    now: dt.datetime,
    valid_to: dt.datetime | None = None,
) -> None:
    """Insert `rows` (a relation of the loaded columns, read twice) as versions of the run's loads, valid from `now`
    (to `valid_to`): one load per source, method and citation among them."""
    # Each load's commonest unit and qualifier become its usual ones (see USUAL_COLUMNS).
    written = con.execute(
        f"SELECT r.source_id, r.method, {CITATION}, mode(r.unit), mode(r.qualifier), "
        f"COUNT(*) FILTER (WHERE r.unit IS NULL OR r.qualifier IS NULL) FROM {rows} AS r GROUP BY ALL"
    ).fetchall()
    if missing := sum(row[-1] for row in written):
        raise ValueError(f"{missing} versions of a load have no unit or qualifier")
    ids = []
    for source, method, citation, unit, qualifier, _ in written:
        loaded, held = register_load(
            con,
            pipeline=pipeline,
            run_id=run_id,
            source_id=source,
            method=method,
            citation=citation,
            now=now,
            usual={"unit": unit, "qualifier": qualifier},
        )
        ids.append((loaded, source, method, citation, *(held[c] for c in USUAL_COLUMNS)))
    if not ids:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _written_loads "
        "(load_id BIGINT, source_id VARCHAR, method VARCHAR, citation VARCHAR, unit VARCHAR, qualifier VARCHAR)"
    )
    with _scratch(con, "_written_loads"):
        con.executemany("INSERT INTO _written_loads VALUES (?, ?, ?, ?, ?, ?)", ids)
        stored = ", ".join(STORED_COLUMNS)
        con.execute(
            f"INSERT INTO observation_versions ({stored}, evidence, load_id, valid_to) "
            f"SELECT {_as_stored('r.', 'l.')}, NULLIF(r.evidence, l.citation), l.load_id, ? "
            f"FROM {rows} AS r JOIN _written_loads AS l ON l.source_id = r.source_id AND l.method = r.method "
            f"AND l.citation IS NOT DISTINCT FROM {CITATION}",
            [valid_to],
        )


def record_superseded(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    *,
    pipeline: str,
    run_id: str,
    now: dt.datetime,
) -> int:
    """Keep rows as their source states them, after a curation replaced them: closed, never current.

    A current version of such a row is closed; unless the newest version already says the same, the row
    is written as a version that opens and closes at `now` (the warehouse learned the claim and replaced it
    in one run), so `observation_history` shows the original claim with the curation's reason, while
    "what did we know on date X" never returns it. Returns how many current versions were closed.
    """
    if frame.is_empty():
        return 0
    claims = loaded_columns(with_series_ids(con, frame), HANDED_COLUMNS)  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE OR REPLACE TEMP TABLE _claims AS SELECT * FROM claims")
    closed = close_current(con, f"EXISTS (SELECT 1 FROM _claims AS c WHERE {_key_match('c', 'h')})", [], now)
    partition = ", ".join(STORED_KEY)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _new_claims AS
        SELECT * FROM _claims AS c
        WHERE NOT EXISTS (
            SELECT 1 FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY valid_from DESC) AS newest
                FROM {VERSIONS}
                WHERE source_id IN (SELECT source_id FROM _claims)
            ) AS h
            WHERE h.newest = 1 AND {_key_match("c", "h")} AND {_same_values("c", "h")}
        )
        """
    )
    with _scratch(con, "_new_claims"):
        _insert_versions(con, "_new_claims", pipeline=pipeline, run_id=run_id, now=now, valid_to=now)
    con.execute("DROP TABLE _claims")
    return closed


def close_current(con: duckdb.DuckDBPyConnection, condition: str, params: list, now: dt.datetime) -> int:
    """Close at `now` the current versions that `condition` selects, on `h`: a version with the columns of
    `observation_history` and its `series_id`.

    Keeps `multi_source_periods` in step; the caller owns the transaction. Returns how many were closed.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _closing AS SELECT * FROM {HISTORY_BY_ID} AS h "
        f"WHERE h.valid_to IS NULL AND ({condition})",
        params,
    )
    with _scratch(con, "_closing"):
        closed = scalar(con, "SELECT COUNT(*) FROM _closing")
        if closed:
            series_changed(con, "SELECT indicator_id, geo, source_id FROM _closing")
            _close_versions(con, "SELECT version_rowid FROM _closing", closed, now)
            periods_lost(con, "SELECT * FROM _closing")
    return closed


def _period_match(left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in PERIOD_COLUMNS)


def periods_gained(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    source_ids: list[str],
    params: list | None = None,
    *,
    indicators: str | None = None,
) -> None:
    """List in `multi_source_periods` the periods of `rows`, just made current, that another source states too.

    `rows` is a relation with the key columns (source included) of versions new to their source, with
    `params` for its placeholders; the writer's `source_ids` are all the sources it wrote. `indicators`, a
    relation (without placeholders) of the distinct indicator ids of `rows`, spares reading them from `rows`
    when the caller has them. Called in the writer's transaction, after the write.
    """
    params = params or []
    indicator_ids, indicator_params = (
        (indicators, []) if indicators is not None else (f"SELECT DISTINCT indicator_id FROM ({rows})", params)
    )
    period = ", ".join(PERIOD_COLUMNS)
    # Only current rows of the same indicators can share a period, and with one source written only other
    # sources' rows: found with a filter on the table scan first, usually none (a first load of ten million
    # rows then costs about a tenth of a second here, against seconds for a join with every current row).
    one_source = len(source_ids) == 1
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _nearby AS
        SELECT {period} FROM observation_history
        WHERE valid_to IS NULL {"AND source_id <> ?" if one_source else ""}
          AND indicator_id IN ({indicator_ids})
        """,
        [*(source_ids if one_source else []), *indicator_params],
    )
    with _scratch(con, "_nearby"):
        if not scalar(con, "SELECT COUNT(*) FROM _nearby"):
            return
        # One source written: a period another source states is shared. Several (they may share periods among
        # themselves): a period of `rows` is shared when two current rows state it.
        shared = (
            f"SELECT DISTINCT {period} FROM ({rows}) SEMI JOIN _nearby USING ({period})"
            if one_source
            else f"SELECT {period} FROM _nearby SEMI JOIN ({rows}) USING ({period}) GROUP BY ALL HAVING COUNT(*) > 1"
        )
        con.execute(
            f"INSERT INTO multi_source_periods SELECT * FROM ({shared}) ANTI JOIN multi_source_periods "
            f"USING ({period})",
            params,
        )


def periods_lost(con: duckdb.DuckDBPyConnection, rows: str, params: list | None = None) -> None:
    """Drop from `multi_source_periods` the periods of `rows`, just closed, that fewer than two sources state now.

    `rows` is a relation with the period columns of the closed versions (their source does not matter: the
    listed periods among them are counted again). Called in the writer's transaction, after the write.
    """
    period = ", ".join(PERIOD_COLUMNS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _recount AS "
        f"SELECT DISTINCT * FROM multi_source_periods SEMI JOIN ({rows}) USING ({period})",
        params or [],
    )
    with _scratch(con, "_recount"):
        if not scalar(con, "SELECT COUNT(*) FROM _recount"):
            return
        con.execute(f"DELETE FROM multi_source_periods AS m USING _recount AS r WHERE {_period_match('m', 'r')}")
        con.execute(
            f"""
            INSERT INTO multi_source_periods
            SELECT {period} FROM observation_history SEMI JOIN _recount USING ({period})
            WHERE valid_to IS NULL
            GROUP BY ALL
            HAVING COUNT(*) > 1
            """
        )
