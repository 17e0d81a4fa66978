"""Long observation tables (`observations_long`, CSV or Parquet) into canonical rows, checked with polars expressions.

Every check is a vectorised filter: a file of ten million rows is read without a Python loop per row.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from octracker.content.catalog import Catalog, name_key
from octracker.countries import is_known_geo
from octracker.extract.ahead import done_ahead
from octracker.extract.repeated_keys import KeyBuckets, KeyHashes, KeyRuns, RepeatedKeys
from octracker.extract.table_files import (
    MiB,
    check_size,
    check_text,
    csv_separator,
    file_problem,
    sniff_format,
)
from octracker.extract.validation import catalog_holds, catalog_limits, key_proven_unique
from octracker.extracts import ALL_CURRENT, EXTRACT_SCHEMA, Extract, KnownRows, Problem
from octracker.units import UnitMismatch

if TYPE_CHECKING:
    from pyarrow._parquet import ParquetReader

FATAL_HEADER_CHECKS = ("missing_column", "duplicate_column")
REQUIRED_COLUMNS = ("indicator", "geo", "period", "value", "unit")
OPTIONAL_COLUMNS = ("qualifier", "as_of", "source_url", "note")
QUALIFIERS = ("exact", "approx", "lower_bound", "upper_bound")
#: Problems listed one by one; past this only their count per check is reported.
MAX_REPORTED = 1000
NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
#: A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_START = r"^ *[=+\-@\t\r]"
DATE = "%Y-%m-%d"
#: One value per indicator, place and period in a table.
KEY = ["indicator", "geo", "_start", "_end"]
#: The same key among canonical rows (the source is one per table).
CANONICAL_KEY = ["indicator_id", "geo", "period_start", "period_end"]
WRONG_FIELD_COUNT = "wrong number of fields"

#: The column a check reads that `_parse_cells` leaves out when the check cannot fail (see `_row_checks`).
CHECK_INPUTS = {
    "unknown_indicator": "_cat_unit",
    "unit_mismatch": "_cat_unit",
    "out_of_range": "_cat_unit",
    "duplicate_key": "_first_line",
    "formula_injection": "_formula",
}
#: A row's catalog entry: unit, range and the range as the message says it.
CATALOG_COLUMNS = ("_cat_unit", "_min", "_max", "_range")
#: Columns whose distinct values are few (indicators, places, periods, units): judged once per value.
DISTINCT_FEW = frozenset({"indicator", "geo", "period", "unit", "qualifier", "as_of"})

#: The canonical columns, `_line_no` and `_raw`, the row's own `source_url` when the table gives one, the
#: hash of the row's cells, and the row's number when `evidence` cites it by reference (null otherwise).
OUTPUT_SCHEMA = {**EXTRACT_SCHEMA, "_source_url": pl.String(), "_row_hash": pl.Int64(), "_evidence_row": pl.Int64()}
#: From this many rows on, a table's rows are cited by reference (the document and the row number), not copied
#: into every row's evidence: on ten million rows the copies cost seconds and gigabytes, the reference nothing.
REFERENCE_FROM_ROWS = 100_000


def extract_long_table(
    path: Path,
    *,
    source_id: str,
    catalog: Catalog,
    max_bytes: int = 512 * MiB,
    known_rows: KnownRows | None = None,
    document_sha256: str | None = None,
    reference_from: int | None = None,
) -> Extract:
    """Read a long observation table (CSV or Parquet, told apart by magic bytes) into canonical rows.

    A row's evidence is the row itself (`<file> row N: <cells>`, `line N` for a CSV), or, for a table of at
    least `reference_from` rows (REFERENCE_FROM_ROWS unless given) whose bytes the raw store keeps under
    `document_sha256`, a reference to it: evidence `<file> (sha256 <hex>) row` and the number in
    `_evidence_row` (see `table_row_text`).

    Every row carries `_row_hash`, a hash of its cells. `known_rows` tells which of them are hashes of rows the
    warehouse holds current for this source, read under the same rules: such a row would give the same observation
    again, so it is not parsed or checked; the hashes of the rows skipped so are returned as `restated`.
    A table that repeats a row is read in full (its second copy must be refused as a duplicate).
    """
    # Load inputs.
    refused = check_size(path, max_bytes)
    if refused:
        return _refused(refused)
    kind = sniff_format(path)
    if kind == "xlsx":
        return _refused(file_problem("wrong_format", "an XLSX workbook is not a long table; export it as CSV", path))
    unknown = (
        _unknown_parquet_rows(path, max_bytes, known_rows) if kind == "parquet" and known_rows is not None else None
    )
    restated: pl.Series | None
    unstated: pl.Series | None
    if unknown is not None:
        cells, rows, restated, unstated = unknown
        problems: list[Problem] = []
    else:
        read, problems = _parquet_cells(path, max_bytes) if kind == "parquet" else _csv_cells(path)
        if read is None:
            return _refused(*problems)
        rows = read.height
        cells, restated, unstated = _without_known_rows(read, known_rows)
        del read  # the whole table: let go of it before the rows left are parsed
    threshold = REFERENCE_FROM_ROWS if reference_from is None else reference_from
    by_reference = document_sha256 is not None and rows >= threshold
    if cells.height == 0:
        return Extract(
            frame=pl.DataFrame(schema=OUTPUT_SCHEMA), problems=problems, restated=restated, unstated=unstated
        )
    cited = document_sha256 if by_reference else None
    extract = _extract_cells(cells, path, kind, source_id=source_id, catalog=catalog, document_sha256=cited)
    return replace(extract, problems=problems + extract.problems, restated=restated, unstated=unstated)


def _extract_cells(
    cells: pl.DataFrame,
    path: Path,
    kind: str,
    *,
    source_id: str,
    catalog: Catalog,
    document_sha256: str | None,
    repeats_found_later: bool = False,
) -> Extract:
    """Canonical rows and row problems of `cells` (all rows of the table, or a batch of them); the rows cite
    the document by reference when `document_sha256` is given (see `extract_long_table`).

    `repeats_found_later`: the caller looks for repeated keys over all the batches, so a batch does not."""
    by_reference = document_sha256 is not None
    if kind == "parquet":
        # The row's text, only for the rows that are read (the file's own cells: before the optional columns it lacks).
        raw = [] if by_reference else [_row_text(cells).alias("_raw")]
        cells = cells.lazy().with_columns(*raw).with_columns(_missing_optional_columns(cells)).collect()

    # Process data.
    where = "row" if kind == "parquet" else "line"
    parsed = _parse_cells(cells, catalog, find_repeats=not repeats_found_later)
    del cells  # ten million rows: let go of what is no longer needed
    checks = _row_checks(parsed, catalog)
    cite = f"{path.name} (sha256 {document_sha256}) {where}" if by_reference else f"{path.name} {where} "
    # What every row of the table holds alike (a reference's evidence is the citation alone).
    constant: dict[str, object] = {"source_id": source_id, "method": "parsed", "flags": None}
    if by_reference:
        constant["evidence"] = cite
    masks = [mask.fill_null(False) for _, mask, _ in checks]
    # The common case, no row failing any check, in one pass over the rows with their canonical columns; only a
    # table with failing rows is read again, for every check's failing rows (a batch of 250,000 rows: 2-3 ms less).
    failing, frame = pl.collect_all(
        [parsed.lazy().select(pl.any_horizontal(masks).any()), _canonical(parsed.lazy(), constant, cite)]
    )
    if not failing.item():
        return Extract(frame=frame, problems=[], constant=constant)
    del frame
    flags = parsed.lazy().select(mask.alias(f"_check{i}") for i, mask in enumerate(masks)).collect()
    problems = _with_payloads(_row_problems(parsed, flags, checks, where), path)
    good = parsed.filter(~flags.select(pl.any_horizontal(pl.all())).to_series())
    return Extract(frame=_canonical(good.lazy(), constant, cite).collect(), problems=problems, constant=constant)


#: Rows per batch of a table read in batches: two DuckDB row groups (see `long_table_batches`). Ten million rows
#: peaked at 1.0 GiB in batches of two row groups, 1.4 GiB in batches of eight, in the same time.
BATCH_ROWS = 2 * 122_880


def long_table_batches(
    path: Path,
    *,
    source_id: str,
    catalog: Catalog,
    document_sha256: str,
    max_bytes: int = 512 * MiB,
    batch_rows: int | None = None,
) -> Callable[[], Iterator[Extract]] | None:
    """A large Parquet table read, checked and turned into canonical rows one batch of rows at a time.

    For a table of at least REFERENCE_FROM_ROWS rows, which cites its rows by reference: its memory then
    follows the batch, not the table. Each batch is what `extract_long_table` gives for its rows, with the
    same row numbers, hashes and evidence, except that repeated keys are looked for over the whole table, not
    per batch: a key that repeats, in one batch or in two, is found when the last batch has been read, and a
    final Extract then holds a `duplicate_key` problem (its batches' frames need no key check of their own). Each
    batch's `constant` names the columns that hold one value over the table. A batch with problems says only
    that the table has some; reading it whole (`extract_long_table`) lists them as every refusal does.
    Returns a function that starts the reading (again each time it is called), or None when the table is not
    such a Parquet file or its file or header has a problem: read it whole.
    """
    if check_size(path, max_bytes) is not None or sniff_format(path) != "parquet":
        return None
    large = _large_parquet(path, max_bytes)
    if large is None:
        return None
    names, header, rows = large
    step = batch_rows or BATCH_ROWS

    def extract_at(offset: int) -> Extract:
        """The batch of rows from `offset` on."""
        # Polars' own reader, as a whole read's: a batch is read, numbered and hashed in one query, with no Arrow
        # batch to convert (pyarrow's batches and their conversion cost 0.8 s of CPU on 10M rows, this 0.25 s); the
        # rows of a batch are found in the file's row groups by their number.
        read = pl.scan_parquet(path, glob=False).slice(offset, step)
        cells = _cells_of(read, names, header, offset, with_optional=True)
        return _extract_cells(
            cells,
            path,
            "parquet",
            source_id=source_id,
            catalog=catalog,
            document_sha256=document_sha256,
            repeats_found_later=True,
        )

    def batches() -> Iterator[Extract]:
        offsets = range(0, rows, step)
        with RepeatedKeys(CANONICAL_KEY, lambda offset: KeyHashes.of(extract_at(offset).frame, CANONICAL_KEY)) as keys:

            def batch_at(offset: int) -> tuple[Extract, KeyRuns, KeyBuckets | None]:
                """The batch, its rows' runs of one series and, once the key check goes by hashes, its keys' hashes
                by bucket, made here, in the thread that read it: the thread that hands the batches to DuckDB only
                writes them out (0.01 s a batch of 245,760 rows less, while DuckDB waits for the batch)."""
                extract = extract_at(offset)
                runs = KeyRuns.of(extract.frame, CANONICAL_KEY)
                hashes = None if keys.by_runs else KeyHashes.of(extract.frame, CANONICAL_KEY)
                # Where each run of a series starts, for the writer's series ids (see SERIES_STARTS).
                return replace(extract, frame=extract.frame.with_columns(runs.starts)), runs, hashes

            read = done_ahead(batch_at, offsets, ahead=BATCHES_AHEAD, name="octracker-batches")
            with contextlib.closing(read):
                for offset, (extract, runs, hashes) in zip(offsets, read):
                    keys.add(offset, extract.frame, runs, hashes)
                    yield extract
                repeats = not keys.unique()
        if repeats:
            yield Extract(
                frame=pl.DataFrame(schema=OUTPUT_SCHEMA),
                problems=[file_problem("duplicate_key", "an indicator, geo and period repeat in the table", path)],
            )

    return batches


#: Batches read at once, ahead of the one the caller holds: a batch's reading is a run of polars queries of which few
#: use more than one core, so two read together use the cores DuckDB leaves while it inserts.
BATCHES_AHEAD = 2


def _with_payloads(problems: list[Problem], path: Path) -> list[Problem]:
    """Problems of rows read without their text (a table cited by reference) get it from the file."""
    missing = [line for line in (p.line_no for p in problems if p.payload is None) if line is not None]
    if not missing:
        return problems
    texts = dict(zip(missing, table_row_texts(path, missing)))
    return [
        replace(p, payload=texts[p.line_no]) if p.payload is None and p.line_no is not None else p for p in problems
    ]


def table_row_text(path: Path, row: int) -> str:
    """Row `row` of a long table as its evidence quoted it: a Parquet row's cells, comma-separated, in file order
    (1-based row number), or the CSV record that starts on line `row`. Raises LookupError when there is none."""
    return table_row_texts(path, [row])[0]


def table_row_texts(path: Path, rows: list[int]) -> list[str]:
    """`table_row_text` of several rows, reading the file once."""
    if sniff_format(path) == "parquet":
        frame = pl.read_parquet(path)
        frame = frame.rename({c: name_key(c) for c in frame.columns}).select(
            c for c in frame.columns if _known(name_key(c))
        )
        if any(not 1 <= r <= frame.height for r in rows):
            raise LookupError(f"{path.name} has {frame.height:,} rows; no row {', '.join(map(str, rows))}")
        return frame[[r - 1 for r in rows]].select(_row_text(frame)).to_series().to_list()
    return _csv_records(path, rows)


def _csv_records(path: Path, rows: list[int]) -> list[str]:
    """The CSV records starting on these lines, read line by line up to the last one asked for."""
    wanted = set(rows)
    found: dict[int, str] = {}
    record: list[str] = []
    quotes = 0
    with open(path, encoding="utf-8", newline="") as fh:
        for line_no, line in enumerate(fh, start=1):
            text = line.rstrip("\r\n")
            if record or quotes % 2 == 0 and line_no in wanted:
                record.append(text)
            quotes += text.count('"')
            if record and quotes % 2 == 0:
                found[line_no - len(record) + 1] = "\n".join(record)
                record = []
                if len(found) == len(wanted):
                    break
    missing = [r for r in rows if r not in found]
    if missing:
        raise LookupError(f"{path.name}: no record starts on line {', '.join(map(str, missing))}")
    return [found[r] for r in rows]


def _without_known_rows(
    cells: pl.DataFrame, known_rows: KnownRows | None
) -> tuple[pl.DataFrame, pl.Series | None, pl.Series | None]:
    """The rows whose hash `known_rows` does not know as held current, the hashes of those it knows and, when it
    answered with every current hash (ALL_CURRENT), those current hashes the table does not state."""
    if known_rows is None:
        return cells, None, None
    hashes = cells.get_column("_row_hash")
    if hashes.n_unique() != hashes.len():
        return cells, None, None
    known = known_rows(hashes)
    if known.is_empty():
        return cells, None, None
    if known.name != ALL_CURRENT:
        # Two joins on the hash, computed together: on ten million rows 0.2 s less than `is_in` and two filters.
        held = known.rename("_row_hash").to_frame().lazy()
        unknown, stated = pl.collect_all(
            [
                cells.lazy().join(held, on="_row_hash", how="anti", maintain_order="left"),
                cells.lazy().select("_row_hash").join(held, on="_row_hash", how="semi", maintain_order="left"),
            ]
        )
        return unknown, stated.get_column("_row_hash"), None
    return _by_place(cells, known) or _by_full_join(cells, known.drop_nulls())


def _by_place(cells: pl.DataFrame, known: pl.Series) -> tuple[pl.DataFrame, pl.Series | None, pl.Series] | None:
    """`_without_known_rows` with every current hash placed by row (ALL_CURRENT): a row whose hash is the one at its
    own place is restated, found by a comparison of the two columns in place; only the other rows' hashes and the
    current ones left over are matched by hash, a join of a tenth of a table of which a tenth changed (the full join
    of every hash: 1.0-1.2 s of CPU on ten million rows). None when the current hashes repeat one found by its place
    (the comparison by place cannot tell what the full join tells then)."""
    kept, places = _at_place(cells, known)
    rest = cells.lazy().select("_row_hash", _position=pl.int_range(pl.len(), dtype=pl.UInt32)).filter(~kept)
    stated_here = cells.get_column("_row_hash").filter(kept)
    matched = _by_hash(rest, known, places.filter(kept), stated_here)
    if matched is None:
        return None
    unread, restated, unstated = matched
    read = pl.repeat(False, cells.height, eager=True).scatter(unread, True)
    return cells.filter(read), restated, unstated


def _at_place(cells: pl.DataFrame, known: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Which rows of `cells` have the hash that `known` (ALL_CURRENT) holds at their own place, and each row's place
    in `known` (null past its end)."""
    places = cells.select(pl.when(pl.col("_line_no").is_between(1, known.len())).then(pl.col("_line_no") - 1))
    at_place = known.gather(places.to_series())
    return (cells.get_column("_row_hash") == at_place).fill_null(False), places.to_series()


def _by_hash(
    rest: pl.LazyFrame, known: pl.Series, taken: pl.Series, stated_here: pl.Series
) -> tuple[pl.Series, pl.Series | None, pl.Series] | None:
    """`_by_place`'s match by hash of the rows not found at their place (`rest`: their `_row_hash` and `_position`)
    with the current hashes (`known`) left over once the places `taken` are: the positions of the rows to read, the
    hashes restated (`stated_here`, found at their place, and those of `rest` found elsewhere) and those unstated.
    None when the current hashes repeat one found by its place."""
    unused = pl.repeat(True, known.len(), eager=True).scatter(taken, False)
    held = known.filter(unused).drop_nulls().rename("_row_hash").to_frame().lazy()
    unread, restated, unstated = pl.collect_all(
        [
            rest.join(held, on="_row_hash", how="anti").select("_position"),
            rest.join(held, on="_row_hash", how="semi").select("_row_hash"),
            held.join(rest, on="_row_hash", how="anti"),
        ]
    )
    stated = stated_here.rename("_row_hash").to_frame().lazy()
    if unstated.height and stated.join(unstated.lazy(), on="_row_hash", how="semi").head(1).collect().height:
        return None
    restated_all = pl.concat([stated_here.rename("_row_hash"), restated.to_series()])
    return unread.to_series(), (restated_all if not restated_all.is_empty() else None), unstated.to_series()


def _unknown_parquet_rows(
    path: Path, max_bytes: int, known_rows: KnownRows
) -> tuple[pl.DataFrame, int, pl.Series | None, pl.Series] | None:
    """`_without_known_rows` of a Parquet table of at least REFERENCE_FROM_ROWS rows, read in batches of BATCH_ROWS
    rows: of each batch only the rows not found at their place among every current hash (ALL_CURRENT) are kept, then
    matched by hash as `_by_place` does; with the table's row count. A whole read held every row's cells at once
    beside the current hashes (the 10M-row table with 10 % revised: 1.6 GiB); this holds a batch, the rows kept
    and the hashes.

    None when the table is to be read whole, as `_without_known_rows` reads it: a file or header with a problem (the
    whole read names it), an answer that is not every current hash, or none, a row repeated whole, or current hashes
    that repeat one found by its place."""
    large = _large_parquet(path, max_bytes)
    if large is None:
        return None
    names, header, rows = large
    known: pl.Series | None = None
    hashes: list[pl.Series] = []
    stated: list[pl.Series] = []
    taken: list[pl.Series] = []
    rest: list[pl.DataFrame] = []
    for offset in range(0, rows, BATCH_ROWS):
        try:
            cells = _cells_of(pl.scan_parquet(path, glob=False).slice(offset, BATCH_ROWS), names, header, offset)
        except Exception:  # noqa: BLE001 - a damaged file: the whole read says why (see `_parquet_cells`)
            return None
        batch_hashes = cells.get_column("_row_hash")
        if known is None:
            # Every current hash, whichever rows it is asked about (a table this large is not looked up by its rows).
            known = known_rows(batch_hashes)
            if known.name != ALL_CURRENT or known.is_empty():
                return None
        kept, places = _at_place(cells, known)
        hashes.append(batch_hashes)
        stated.append(batch_hashes.filter(kept))
        taken.append(places.filter(kept).cast(pl.UInt32 if known.len() < 2**32 else pl.UInt64))
        rest.append(cells.filter(~kept))
    every = pl.concat(hashes)
    del hashes
    if known is None or every.n_unique() != every.len():
        return None
    del every
    unknown = pl.concat(rest)
    del rest
    matched = _by_hash(
        unknown.lazy().select("_row_hash", _position=pl.int_range(pl.len(), dtype=pl.UInt32)),
        known,
        pl.concat(taken),
        pl.concat(stated),
    )
    if matched is None:
        return None
    unread, restated, unstated = matched
    read = pl.repeat(False, unknown.height, eager=True).scatter(unread, True)
    return unknown.filter(read), rows, restated, unstated


def _by_full_join(cells: pl.DataFrame, known: pl.Series) -> tuple[pl.DataFrame, pl.Series | None, pl.Series]:
    """`_without_known_rows` with every current hash, by one full join of the table's hashes with them: it says all
    three (on ten million rows, 10 % of them changed: 3.5-4.1 s of CPU, against 4.6-4.8 s for two joins, which cannot
    tell what is unstated)."""
    held = known.rename("_row_hash").to_frame().lazy().with_columns(_held=pl.lit(True))
    both = cells.lazy().select("_row_hash", "_line_no").join(held, on="_row_hash", how="full", coalesce=True).collect()
    restated = both.filter(pl.col("_held") & pl.col("_line_no").is_not_null()).get_column("_row_hash")
    unstated = both.filter(pl.col("_line_no").is_null()).get_column("_row_hash")
    unread = both.filter(pl.col("_held").is_null()).select("_line_no")
    unknown = cells.join(unread, on="_line_no", how="semi", maintain_order="left")
    return unknown, (restated if not restated.is_empty() else None), unstated


def _refused(*problems: Problem) -> Extract:
    return Extract(frame=pl.DataFrame(schema=OUTPUT_SCHEMA), problems=list(problems))


# --- reading ---------------------------------------------------------------------------------------------


def _csv_cells(path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    """Cells of a CSV as strings, one row per record, with its first line number, raw text and shape fault."""
    refused = check_text(path)
    if refused:
        return None, [refused]
    # One string per physical line: the file has no NUL byte (checked above), so NUL never splits a line.
    try:
        lines = pl.read_csv(
            path,
            glob=False,  # a name like "shootings [2024].csv" is a file name, not a pattern
            has_header=False,
            separator="\x00",
            quote_char=None,
            infer_schema=False,
            new_columns=["_raw"],
            empty_string_is_null=False,
            row_index_name="_line_no",
            row_index_offset=1,
        ).with_columns(pl.col("_line_no").cast(pl.Int64))
    except pl.exceptions.NoDataError:
        # Bytes, but no text: a UTF-8 byte-order mark alone (a spreadsheet's export of an empty sheet).
        return None, [
            file_problem("empty_file", "the file holds no text, not even a header; export the table again", path)
        ]
    records = _join_quoted_lines(lines)
    header_text = records["_raw"][0].removeprefix("\ufeff")
    if "\r" in header_text:
        return None, [
            file_problem(
                "bad_line_endings",
                "lines end in a bare CR (old Mac style); save the file with LF or CRLF line endings",
                path,
            )
        ]
    separator = csv_separator(header_text)
    header = [name_key(c) for c in next(csv.reader([header_text], delimiter=separator))]
    problems = _header_problems(header, header_text, line_no=1)
    if any(p.check in FATAL_HEADER_CHECKS for p in problems):
        return None, problems
    records = records.slice(1).filter(~pl.col("_raw").str.contains(r"^\s*$")).with_columns(_row_hash=_row_hash("_raw"))
    if records.height == 0:
        return None, [file_problem("empty_file", "the table has a header but no rows", path)]
    cells = _split_cells(records, separator, header)
    return _with_optional_columns(cells.select(c for c in cells.columns if _known(c) or c.startswith("_"))), problems


def _join_quoted_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Join the lines of a record whose quoted field spans line breaks; `_q` is its count of quote marks."""
    quotes = pl.col("_raw").str.count_matches('"', literal=True)
    lines = lines.with_columns(_q=quotes)
    inside = (pl.col("_q").cum_sum() - pl.col("_q")) % 2 == 1
    if not lines.select(inside.any()).item():
        return lines
    return (
        lines.with_columns(_record=(~inside).cum_sum())
        .group_by("_record", maintain_order=True)
        .agg(pl.col("_line_no").first(), pl.col("_raw").str.join("\n"), pl.col("_q").sum())
        .drop("_record")
    )


def _split_cells(records: pl.DataFrame, separator: str, header: list[str]) -> pl.DataFrame:
    """One string column per header name, and `_ragged` saying why a record does not fit the header.

    Records without a quote mark take the fast path (a plain split); the others a quote-aware regex.
    """
    width = len(header)
    names = [f"_f{i}" for i in range(width)]
    found = pl.col("_raw").str.count_matches(separator, literal=True) + 1
    cells = records.select(
        "_line_no",
        "_raw",
        "_row_hash",
        # A literal, not a formatted message: formatting ten million strings to keep a handful costs seconds.
        pl.when(found != width).then(pl.lit(WRONG_FIELD_COUNT)).alias("_ragged"),
        found.alias("_found"),
        pl.lit(width, pl.UInt32).alias("_expected"),
        pl.col("_raw").str.split_exact(separator, width - 1).struct.rename_fields(names).struct.unnest(),
    )
    quoted_at = records.select(pl.col("_q") > 0).to_series().arg_true()
    if len(quoted_at):
        # Patch the few records with quote marks in place rather than concatenating and re-sorting millions.
        quoted = _split_quoted(records[quoted_at], separator, names)
        cells = cells.with_columns(
            cells.get_column(c).scatter(quoted_at, quoted.get_column(c)) for c in ["_ragged", "_found", *names]
        )
    return cells.rename(dict(zip(names, header)))


def _split_quoted(records: pl.DataFrame, separator: str, names: list[str]) -> pl.DataFrame:
    """Fields of records with quote marks: `"a, b"` is one field and `""` inside quotes is a quote mark."""
    sep = re.escape(separator)
    # Prefixing the separator makes every field a non-empty match: `<sep>"quoted ""text"""` or `<sep>plain`.
    pieces = (pl.lit(separator) + pl.col("_raw")).str.extract_all(rf'{sep}(?:"(?:[^"]|"")*"|[^{sep}"]*)')
    field = pl.element().str.slice(1)
    unquoted = (
        pl.when(field.str.starts_with('"') & field.str.ends_with('"') & (field.str.len_chars() >= 2))
        .then(field.str.slice(1, field.str.len_chars() - 2).str.replace_all('""', '"', literal=True))
        .otherwise(field)
    )
    covered = pl.col("_pieces").list.eval(pl.element().str.len_chars()).list.sum() == pl.col("_raw").str.len_chars() + 1
    found = pl.col("_fields").list.len()
    return (
        records.with_columns(_pieces=pieces)
        .with_columns(_fields=pl.col("_pieces").list.eval(unquoted))
        .select(
            "_line_no",
            "_raw",
            pl.when(pl.col("_q") % 2 == 1)
            .then(pl.lit("a quote opened here is never closed"))
            .when(~covered)
            .then(pl.lit("malformed quoting: text after a closing quote"))
            .when(found != len(names))
            .then(pl.lit(WRONG_FIELD_COUNT))
            .alias("_ragged"),
            found.alias("_found"),
            *(pl.col("_fields").list.get(i, null_on_oob=True).alias(n) for i, n in enumerate(names)),
        )
    )


def _parquet_cells(path: Path, max_bytes: int) -> tuple[pl.DataFrame | None, list[Problem]]:
    """Cells of a Parquet file (typed columns kept, in file order), one row per row, with its 1-based row number.

    The row's text (`_raw`) and the optional columns the file lacks are added by the caller, for the rows it reads.
    """
    try:
        unpacked = _unpacked_bytes(_parquet_footer(path))
        if unpacked > max_bytes:
            return None, [
                file_problem(
                    "too_large",
                    f"the Parquet data expands to {unpacked:,} bytes, more than the {max_bytes:,} allowed",
                    path,
                )
            ]
        frame = pl.read_parquet(path, glob=False)
    except Exception as exc:  # pyarrow and polars raise many types for a damaged file
        return None, [file_problem("unreadable_file", f"not a readable Parquet file: {exc}", path)]
    header = [name_key(c) for c in frame.columns]
    problems = _header_problems(header, ",".join(frame.columns), line_no=None)
    if any(p.check in FATAL_HEADER_CHECKS for p in problems):
        return None, problems
    if frame.height == 0:
        return None, [file_problem("empty_file", "the Parquet file has no rows", path)]
    return _cells_of(frame.lazy(), frame.columns, header, 0), problems


def _parquet_footer(path: Path) -> ParquetReader:
    """The Parquet file's metadata (its footer, the only part read), by pyarrow's own reader of it: pyarrow.parquet,
    which wraps it, imports pyarrow's file systems and with them ssl (7-15 ms a process, for nothing here). Only for
    a Parquet file: a CSV or a publisher's file does not pay even this import."""
    from pyarrow._parquet import ParquetReader

    reader = ParquetReader()
    reader.open(str(path))
    return reader


def _unpacked_bytes(parquet: ParquetReader) -> int:
    meta = parquet.metadata
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def _large_parquet(path: Path, max_bytes: int) -> tuple[list[str], list[str], int] | None:
    """A Parquet table of at least REFERENCE_FROM_ROWS rows that can be read in batches: its column names, its
    header's names as keys and its row count; None when it is to be read whole (smaller, or a file or header with a
    problem, which the whole read names)."""
    opened = _open_parquet(path, max_bytes)
    if opened is None:
        return None
    parquet, header = opened
    rows = parquet.metadata.num_rows
    if rows < REFERENCE_FROM_ROWS or _header_problems(header, "", line_no=None):
        return None
    names = parquet.schema_arrow.names
    if pl.scan_parquet(path, glob=False).collect_schema().names() != names:
        return None  # the two readers see the columns apart: read whole, by polars, as any table
    return names, header, rows


def _open_parquet(path: Path, max_bytes: int) -> tuple[ParquetReader, list[str]] | None:
    """The Parquet file's metadata and its header's column names as keys; None when it would be refused."""
    try:
        parquet = _parquet_footer(path)
    except Exception:  # noqa: BLE001 - pyarrow raises many types for a damaged file: the whole read says why
        return None
    if _unpacked_bytes(parquet) > max_bytes:
        return None
    return parquet, [name_key(c) for c in parquet.schema_arrow.names]


def _cells_of(
    frame: pl.LazyFrame, names: list[str], header: list[str], offset: int, *, with_optional: bool = False
) -> pl.DataFrame:
    """The known columns of rows of a Parquet file whose columns are `names` (`header` as keys), the first of them row
    `offset` + 1, with row number and hash (and, `with_optional`, the optional columns the file lacks, as nulls)."""
    known = [n for n in header if _known(n)]
    missing = [c for c in OPTIONAL_COLUMNS if c not in known] if with_optional else []
    return (
        frame.rename(dict(zip(names, header)))
        .select(known)
        .with_row_index("_line_no", offset=offset + 1)
        .with_columns(
            pl.col("_line_no").cast(pl.Int64),
            _row_hash=_row_hash(*known),
            _ragged=pl.lit(None, pl.String),
            _found=pl.lit(None, pl.UInt32),
            _expected=pl.lit(None, pl.UInt32),
        )
        .with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
        .collect()
    )


def _row_text(cells: pl.DataFrame) -> pl.Expr:
    """A Parquet row as text: its cells in file order, comma-separated (the evidence quotes it)."""
    columns = [c for c in cells.columns if not c.startswith("_")]
    return pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns], separator=",")


def _row_hash(*columns: str) -> pl.Expr:
    """A hash of a row's cells, as a signed 64-bit integer (the warehouse column is BIGINT)."""
    return pl.struct(columns).hash().reinterpret(signed=True).alias("_row_hash")


def _known(column: str) -> bool:
    return column in REQUIRED_COLUMNS or column in OPTIONAL_COLUMNS


def _header_problems(header: list[str], raw: str, line_no: int | None) -> list[Problem]:
    """Missing required, unknown and repeated columns (an unknown one is usually a misspelt optional column)."""
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(
            Problem(
                "missing_column",
                f"missing column(s) {', '.join(missing)}; a long table needs {', '.join(REQUIRED_COLUMNS)}",
                raw,
                line_no,
            )
        )
    for column in dict.fromkeys(c for c in header if not _known(c)):
        problems.append(
            Problem(
                "unknown_column",
                f"unknown column {column!r}; optional columns are {', '.join(OPTIONAL_COLUMNS)}",
                raw,
                line_no,
            )
        )
    for column in dict.fromkeys(c for c in header if header.count(c) > 1):
        problems.append(Problem("duplicate_column", f"column {column!r} appears more than once", raw, line_no))
    return problems


def _with_optional_columns(cells: pl.DataFrame) -> pl.DataFrame:
    return cells.with_columns(_missing_optional_columns(cells))


def _missing_optional_columns(cells: pl.DataFrame) -> list[pl.Expr]:
    """The optional columns `cells` lacks, as nulls."""
    return [pl.lit(None, pl.String).alias(c) for c in OPTIONAL_COLUMNS if c not in cells.columns]


# --- parsing and checks ----------------------------------------------------------------------------------


def _parse_cells(cells: pl.DataFrame, catalog: Catalog, *, find_repeats: bool = True) -> pl.DataFrame:
    """Cells stripped in place, plus typed `_`-columns: value, dates, formula-like column, catalog unit and range,
    and (`find_repeats`) the first line of a repeated key (see `_with_first_line`)."""
    stated_periods, matching = _survey_cells(cells)
    cells = _with_formula_column(cells, matching)
    # The distinct periods as the rows state them once tidied (tidied as the rows are).
    periods = _period_dates(stated_periods.to_frame("period").lazy().select(_tidy(matching, "period")))
    # Looked up per row by the period's position among the distinct ones (a join copies every column).
    at = pl.col("period").cast(pl.Enum(periods["period"])).to_physical()
    # One query: the cells tidied and typed, then each row's period parts looked up from its tidied period.
    parsed = (
        cells.lazy()
        .with_columns(
            _value=_value_expr(cells.schema["value"]),
            _as_of=_date_expr("as_of", cells.schema["as_of"]),
            indicator=_tidy(matching, "indicator"),
            geo=_tidy(matching, "geo", upper=True),
            period=_tidy(matching, "period"),
            # A typed number is kept as it is: its text form only ever appears in a message.
            value=pl.col("value") if cells.schema["value"].is_numeric() else _tidy(matching, "value"),
            unit=_tidy(matching, "unit"),
            qualifier=_tidy(matching, "qualifier", optional=True).str.to_lowercase().fill_null("exact"),
            as_of=_tidy(matching, "as_of", optional=True),
            source_url=_tidy(matching, "source_url", optional=True),
            note=_tidy(matching, "note", optional=True),
        )
        .with_columns(_period_at=at)  # once: a cast for each part cost as much as the rest of the query
        .with_columns(pl.lit(periods[c]).gather(pl.col("_period_at")).alias(c) for c in PERIOD_PARTS)
        .drop("_period_at")
        .collect()
    )
    limits = catalog_limits(catalog)
    holds = catalog_holds(_well_formed(parsed), limits)
    if not holds:
        # A unit another spelling of the catalog's, or convertible to it, is restated first (the slow path only).
        parsed = _in_catalog_units(parsed, catalog)
        holds = catalog_holds(_well_formed(parsed), limits)
    if not holds:
        # Some row breaks the catalog: each row gets its indicator's unit and range, for the row checks.
        limits = pl.DataFrame(
            [(i.id, i.unit, float(i.min), float(i.max), f"{i.min:g} to {i.max:g}") for i in catalog.indicators],
            schema={
                "indicator": pl.String,
                "_cat_unit": pl.String,
                "_min": pl.Float64,
                "_max": pl.Float64,
                "_range": pl.String,
            },
            orient="row",
        )
        parsed = (
            parsed.lazy()
            .with_columns(
                pl.col("indicator").replace_strict(limits["indicator"], limits[c], default=None).alias(c)
                for c in CATALOG_COLUMNS
            )
            .collect()
        )
    return _with_first_line(parsed) if find_repeats else parsed


def _well_formed(parsed: pl.DataFrame) -> pl.LazyFrame:
    return (
        parsed.lazy().filter(pl.col("_ragged").is_null()).select(indicator_id="indicator", unit="unit", value="_value")
    )


def _in_catalog_units(parsed: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Rows whose unit is another spelling of their indicator's catalog unit (`incidents` for `count`) or converts
    to it (`kg` to `tonnes`, by pint through the catalog's unit book), restated in the catalog's unit.

    The value is converted; `note` says what the row stated. The row's text, its evidence, keeps the file's own
    unit. A unit that cannot be converted is left as it is, for the unit check to refuse with its reason.
    """
    units = {i.id: i.unit for i in catalog.indicators}
    pairs = _well_formed(parsed).select("indicator_id", "unit").unique().drop_nulls().collect()
    conversions = []
    for indicator, unit in pairs.sort("indicator_id", "unit").iter_rows():
        target = units.get(indicator)
        if target is None or unit == target:
            continue
        try:
            factor = catalog.units.factor(unit, target)
        except UnitMismatch:
            continue
        # 1000 kg to the tonne: divide by the whole number rather than multiply by its float inverse, so that
        # 61800 kg is 61.8 t, not 61.800000000000004.
        inverse = 1 / factor
        multiply, divide = (1.0, float(round(inverse))) if abs(inverse - round(inverse)) < 1e-9 else (factor, 1.0)
        conversions.append((indicator, unit, target, multiply, divide))
    if not conversions:
        return parsed
    table = pl.DataFrame(
        conversions,
        schema={"indicator": pl.String, "unit": pl.String, "_to": pl.String, "_mul": pl.Float64, "_div": pl.Float64},
        orient="row",
    )
    converted = pl.col("_to").is_not_null() & pl.col("_ragged").is_null()
    stated = (
        pl.when((pl.col("_mul") == 1) & (pl.col("_div") == 1))
        .then(pl.format("unit stated as {}", "unit"))
        .otherwise(pl.format("stated as {} {}, converted to {}", pl.col("value").cast(pl.String), "unit", "_to"))
    )
    return (
        parsed.lazy()
        .join(table.lazy(), on=["indicator", "unit"], how="left", maintain_order="left")
        .with_columns(
            _value=pl.when(converted).then(pl.col("_value") * pl.col("_mul") / pl.col("_div")).otherwise("_value"),
            note=pl.when(~converted)
            .then("note")
            .when(pl.col("note").is_null())
            .then(stated)
            .otherwise(pl.format("{}; {}", "note", stated)),
            unit=pl.when(converted).then("_to").otherwise("unit"),
        )
        .drop("_to", "_mul", "_div")
        .collect()
    )


#: What `_period_dates` tells of each period, looked up for each row.
PERIOD_PARTS = ("_start", "_end", "_year", "_full_year", "_bad_period")


def _period_dates(periods: pl.LazyFrame) -> pl.DataFrame:
    """PERIOD_PARTS of each distinct non-null `period` (a table repeats a few hundred over millions of rows): its
    first and last day, the year of its last day, whether it is a whole calendar year, and whether it is no period
    the table may state (not YYYY or YYYY-MM-DD/YYYY-MM-DD within one calendar year of 1900-2100)."""
    period = pl.col("period")
    is_year = period.str.contains(r"^\d{4}$")
    is_span = period.str.contains(r"^\d{4}-\d{2}-\d{2}/\d{4}-\d{2}-\d{2}$")
    year = period.cast(pl.Int32, strict=False)
    start, end = pl.col("_start"), pl.col("_end")
    return (
        periods.select(period.unique().drop_nulls())
        .with_columns(
            _start=pl.when(is_year)
            .then(pl.date(year, 1, 1))
            .when(is_span)
            .then(period.str.slice(0, 10).str.to_date(DATE, strict=False)),
            _end=pl.when(is_year)
            .then(pl.date(year, 12, 31))
            .when(is_span)
            .then(period.str.slice(11, 10).str.to_date(DATE, strict=False)),
        )
        .with_columns(
            _year=end.dt.year().cast(pl.Int32),
            _full_year=(start.dt.ordinal_day() == 1) & (end.dt.month() == 12) & (end.dt.day() == 31),
            _bad_period=(
                start.is_null()
                | end.is_null()
                | (end < start)
                | (start.dt.year() != end.dt.year())
                | ~end.dt.year().is_between(1900, 2100)
            ).fill_null(True),
        )
        .collect()
    )


def _with_formula_column(cells: pl.DataFrame, matching: frozenset[tuple[str, str]]) -> pl.DataFrame:
    """`_formula`: the first column whose cell a spreadsheet would run as a formula (a number is fine); `matching`
    says whether any cell starts as one (see `_survey_cells`)."""
    columns = _formula_columns(cells)
    if not any((c, FORMULA_START) in matching for c in columns):
        return cells  # no `_formula` column: the formula check is then left out
    # Rare: only now pay for telling '-5' (a number) from '-cmd' (a formula) in every column.
    formula_like = [
        pl.when(pl.col(c).str.contains(FORMULA_START) & ~pl.col(c).str.strip_chars().str.contains(NUMBER)).then(
            pl.lit(c)
        )
        for c in columns
    ]
    return cells.with_columns(_formula=pl.coalesce(formula_like))


def _with_first_line(parsed: pl.DataFrame) -> pl.DataFrame:
    """`_first_line`: for a row whose key an earlier row already has, that row's line; null otherwise.

    Left out when no key repeats (the duplicate check is then left out too)."""
    eligible = pl.col("_ragged").is_null() & pl.all_horizontal(pl.col(k).is_not_null() for k in KEY)
    # Distinct hashes prove distinct keys (the common case) at a fraction of the cost of the search below.
    if key_proven_unique(parsed.lazy().filter(eligible), KEY):
        return parsed  # no `_first_line`: adding a column of nulls copies every column (0.4 s on 10M rows)
    repeated = parsed.select(eligible & pl.struct(KEY).is_duplicated()).to_series()
    if not repeated.any():
        return parsed
    # Only the rows of repeated keys are grouped: a full window over ten million rows costs seconds.
    first = parsed.filter(repeated).select("_line_no", _first_line=pl.col("_line_no").min().over(KEY))
    return parsed.join(first, on="_line_no", how="left", maintain_order="left")


def _tidy(matching: frozenset[tuple[str, str]], column: str, *, upper: bool = False, optional: bool = False) -> pl.Expr:
    """The cell as text without surrounding spaces (upper-cased, empty as null, when asked).

    Each rewrite runs only when some cell needs it (`matching`, see `_survey_cells`): copying ten million strings
    for nothing costs memory.
    """
    cell = pl.col(column).cast(pl.String)
    if (column, SPACES) in matching:
        cell = cell.str.strip_chars()
    if upper and (column, LOWER_CASE) in matching:
        cell = cell.str.to_uppercase()
    return pl.when(cell != "").then(cell) if optional else cell


#: What `_tidy` asks of a column's cells: a space around the text, a lower-case letter (of a column upper-cased).
SPACES, LOWER_CASE = r"^\s|\s$", "[a-z]"


def _formula_columns(cells: pl.DataFrame) -> list[str]:
    """The text columns whose cells the formula check reads."""
    return [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if cells.schema[c] == pl.String]


def _asked_patterns(cells: pl.DataFrame) -> list[tuple[str, str]]:
    """(column, pattern) for each question `_tidy` and `_with_formula_column` ask of the cells: does any match?"""
    tidied = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c != "value" or not cells.schema[c].is_numeric()]
    return [*((c, SPACES) for c in tidied), ("geo", LOWER_CASE), *((c, FORMULA_START) for c in _formula_columns(cells))]


def _survey_cells(cells: pl.DataFrame) -> tuple[pl.Series, frozenset[tuple[str, str]]]:
    """The distinct periods the cells state, and which of the patterns asked of the cells (`_asked_patterns`) some
    cell matches, in one query (a query each cost about 0.5 ms however few the rows: 100 rows, 20 queries, 10 ms).

    The columns that repeat a few hundred values over millions of rows (indicators, places, periods, units) are judged
    once per distinct value (the same answer, several times faster)."""

    def texts(column: str) -> pl.Expr:
        text = pl.col(column).cast(pl.String)
        return text.unique() if column in DISTINCT_FEW else text

    asked = _asked_patterns(cells)
    found = (
        cells.lazy()
        .select(
            texts("period").implode().alias("period"),
            *(texts(c).str.contains(p).any().alias(f"_asked{i}") for i, (c, p) in enumerate(asked)),
        )
        .collect()
    )
    periods = found.get_column("period")[0].drop_nulls()
    return periods, frozenset(a for i, a in enumerate(asked) if found.item(0, f"_asked{i}"))


def _value_expr(dtype: pl.DataType) -> pl.Expr:
    """Float64 value, null unless the cell is a plain finite number (no 'inf', '1,000' or '12%')."""
    if dtype.is_numeric():
        value = pl.col("value").cast(pl.Float64)
        return pl.when(value.is_finite()).then(value)
    text = pl.col("value").cast(pl.String).str.strip_chars()
    value = text.cast(pl.Float64, strict=False)
    # "1E-400" parses as 0: a number too small for a float is not the zero it would silently become.
    underflow = (value == 0) & text.str.replace(r"[eE].*$", "").str.contains(r"[1-9]")
    return pl.when(value.is_finite() & ~underflow).then(value)


def _tomorrow() -> dt.date:
    """The latest date a statement can be as of: today in UTC, with a day for the time zones ahead of it."""
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)


def _date_expr(column: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Date:
        return pl.col(column)
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.date()
    return pl.col(column).cast(pl.String).str.strip_chars().str.to_date(DATE, strict=False)


def _row_checks(parsed: pl.DataFrame, catalog: Catalog) -> list[tuple[str, pl.Expr, pl.Expr]]:
    """(check name, mask of failing rows, message) for every row check; ragged rows skip the others.

    A check whose input column `_parse_cells` left out is left out too: it was shown to find nothing
    (no catalog columns: the catalog holds for every row; no `_first_line`: no key repeats; no `_formula`:
    no cell looks like a formula). So is the place check when every row's place is a known one.
    """
    known_geos, every_geo_known = _known_geos(parsed)
    shaped = pl.col("_ragged").is_null()
    start, as_of, value = pl.col("_start"), pl.col("_as_of"), pl.col("_value")
    known = pl.col("_cat_unit").is_not_null()
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [
        (
            "ragged_row",
            ~shaped,
            pl.when(pl.col("_ragged") == WRONG_FIELD_COUNT)
            .then(pl.format("expected {} fields as in the header, found {}", pl.col("_expected"), pl.col("_found")))
            .otherwise(pl.col("_ragged")),
        ),
        (
            "formula_injection",
            shaped & pl.col("_formula").is_not_null(),
            pl.format(
                "the {} cell starts with =, +, -, @, tab or CR and is not a number; a spreadsheet would run "
                "it as a formula, so remove that character",
                pl.col("_formula"),
            ),
        ),
        (
            "unknown_indicator",
            shaped & ~known,
            # Without `_cat_unit` the check is left out below, so its message is never built.
            _unknown_indicator_message(parsed, catalog) if "_cat_unit" in parsed.columns else pl.lit(None, pl.String),
        ),
        (
            "bad_geo",
            shaped & ~pl.col("geo").is_in(known_geos).fill_null(False),
            pl.format(
                "geo {} is not an ISO 3166-1/3166-2 code, UN/LOCODE, CBS region (NL-GM0363) or EU",
                _quoted(pl.col("geo")),
            ),
        ),
        (
            "bad_period",
            # A row without a period (or with one not among the distinct periods) has none of its parts.
            shaped & pl.col("_bad_period").fill_null(True),
            pl.format(
                "period {} is not YYYY or YYYY-MM-DD/YYYY-MM-DD within one calendar year (1900-2100)",
                _quoted(pl.col("period")),
            ),
        ),
        (
            "bad_as_of",
            shaped & ((pl.col("as_of").is_not_null() & as_of.is_null()) | (as_of < start) | (as_of > _tomorrow())),
            pl.format(
                "as_of {} is not a YYYY-MM-DD date on or after the period start and not after today",
                _quoted(pl.col("as_of")),
            ),
        ),
        (
            "bad_number",
            shaped & value.is_null(),
            pl.format("value {} is not a plain decimal number", _quoted(pl.col("value"))),
        ),
        (
            "bad_qualifier",
            shaped & ~pl.col("qualifier").is_in(QUALIFIERS),
            pl.format("qualifier {} is not one of {}", _quoted(pl.col("qualifier")), pl.lit(", ".join(QUALIFIERS))),
        ),
        (
            "unit_mismatch",
            shaped & known & (pl.col("unit") != pl.col("_cat_unit")).fill_null(True),
            pl.format(
                "unit {} is not the catalog unit {} of {} and does not convert to it",
                _quoted(pl.col("unit")),
                _quoted(pl.col("_cat_unit")),
                pl.col("indicator"),
            ),
        ),
        (
            "not_whole",
            shaped & (pl.col("unit") == "count") & (value != value.round(0)).fill_null(False),
            pl.format("value {} is not a whole number; a count counts whole things", _quoted(pl.col("value"))),
        ),
        (
            "out_of_range",
            shaped & ((value < pl.col("_min")) | (value > pl.col("_max"))),
            pl.format(
                "value {} is outside the catalog range {} of {}",
                _quoted(pl.col("value")),
                pl.col("_range"),
                pl.col("indicator"),
            ),
        ),
        (
            "duplicate_key",
            shaped & (pl.col("_line_no") != pl.col("_first_line")),
            pl.format("same indicator, geo and period as line {}", pl.col("_first_line")),
        ),
    ]
    left_out = {"bad_geo"} if every_geo_known else set()
    return [c for c in checks if CHECK_INPUTS.get(c[0], "_ragged") in parsed.columns and c[0] not in left_out]


def _quoted(cell: pl.Expr) -> pl.Expr:
    return pl.format("'{}'", cell.cast(pl.String).fill_null(""))


def _known_geos(parsed: pl.DataFrame) -> tuple[list[str], bool]:
    """The distinct geo codes that exist, checked once per code, not per row; and whether every row has one of them
    (no row without a place, no code unknown: the place check is then left out, 0.05 s of CPU on ten million rows)."""
    geos = parsed.get_column("geo")
    distinct = geos.drop_nulls().unique().to_list()
    known = [g for g in distinct if is_known_geo(g)]
    return known, len(known) == len(distinct) and geos.null_count() == 0


def _unknown_indicator_message(parsed: pl.DataFrame, catalog: Catalog) -> pl.Expr:
    """Message per distinct unknown indicator, naming the catalog id it probably means."""
    unknown = parsed.filter(pl.col("_cat_unit").is_null())["indicator"].drop_nulls().unique().to_list()
    messages = {}
    for name in filter(None, unknown):
        messages[name] = (
            catalog.unknown(name)
            if catalog.suggest(name)
            else (f"unknown indicator {name!r}; add it to schemas/indicators.toml first")
        )
    return pl.col("indicator").replace_strict(messages, default="indicator is empty", return_dtype=pl.String)


def _row_problems(parsed: pl.DataFrame, flags: pl.DataFrame, checks: list, where: str) -> list[Problem]:
    """Problems for failing rows in file order, the first MAX_REPORTED listed and the rest counted."""
    counts: dict[str, int] = {}
    frames = []
    for (name, _, message), column in zip(checks, flags.iter_columns()):
        failing = int(column.sum())
        if not failing:
            continue
        counts[name] = counts.get(name, 0) + failing
        first_failing = column.arg_true().head(MAX_REPORTED)
        raw = pl.col("_raw") if "_raw" in parsed.columns else pl.lit(None, pl.String).alias("_raw")
        frames.append(parsed[first_failing].select("_line_no", raw, check=pl.lit(name), message=message))
    if not frames:
        return []
    # A CSV problem's line_no is the file line; a Parquet one's is the row number, which the message says.
    prefix = "row {}: " if where == "row" else ""
    listed = pl.concat(frames).sort("_line_no", maintain_order=True).head(MAX_REPORTED)
    problems = [
        Problem(
            check=row["check"],
            message=prefix.format(row["_line_no"]) + row["message"],
            payload=row["_raw"],
            line_no=row["_line_no"],
        )
        for row in listed.iter_rows(named=True)
    ]
    total = sum(counts.values())
    if total > len(problems):
        summary = ", ".join(f"{n} {c:,}" for n, c in counts.items())
        problems.append(
            Problem(
                "too_many_problems",
                f"{total - len(problems):,} more problems not listed "
                f"({total:,} in all: {summary}); fix these and run again",
                "",
                None,
            )
        )
    return problems


def _canonical(good: pl.LazyFrame, constant: dict[str, object], cite: str) -> pl.LazyFrame:
    """Canonical columns; a period short of its year, or known only as of a date before its end, is partial.

    `constant` holds the columns every row has alike (source, method, flags; evidence when cited by reference).
    A partial period without an as_of date stood as of its last day. Evidence is `cite` followed by the row's
    number and text or, cited by reference, `cite` alone with the number in `_evidence_row`.
    """
    by_reference = "evidence" in constant
    end, as_of = pl.col("_end"), pl.col("_as_of")
    # '2025' as of 2025-09-10 is the year so far, not the year: partial too.
    partial = ~pl.col("_full_year") | (as_of < end).fill_null(False)
    # Lazy: polars then splits each column's work over the cores (eager: one core per column).
    columns = good.collect_schema().names()
    return good.select(
        indicator_id=pl.col("indicator"),
        geo=pl.col("geo"),
        period_start=pl.col("_start"),
        period_end=pl.col("_end"),
        year=pl.col("_year"),
        value=pl.col("_value"),
        unit=pl.col("unit"),
        qualifier=pl.col("qualifier"),
        is_partial=partial,
        as_of=pl.when(partial & as_of.is_null()).then(end).otherwise(as_of),
        source_id=pl.lit(constant["source_id"], pl.String),
        method=pl.lit(constant["method"], pl.String),
        evidence=pl.lit(constant["evidence"], pl.String)
        if by_reference
        else pl.concat_str(pl.lit(cite), pl.col("_line_no").cast(pl.String), pl.lit(": "), pl.col("_raw")),
        note=pl.col("note"),
        flags=pl.lit(constant["flags"], pl.String),
        _line_no=pl.col("_line_no"),
        _raw=pl.col("_raw") if "_raw" in columns else pl.lit(None, pl.String),
        _source_url=pl.col("source_url"),
        _row_hash=pl.col("_row_hash"),
        _evidence_row=pl.col("_line_no") if by_reference else pl.lit(None, pl.Int64),
    ).select(list(OUTPUT_SCHEMA))
