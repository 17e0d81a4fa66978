"""The source line behind a value: its evidence as stored or, for a table row cited by reference, that row as the
raw store keeps it (the document's exact bytes under their sha256).

A reference names its document and what it numbers: a `row` of a Parquet table, a `line` of a CSV file (the record
printed as the file writes it) or a `cell` of a JSON-stat body (its flat index; the body is read again, once per
document, and the cell printed as a small body's evidence reads: `<source>: <native id>, <geo>, <period> = <value>`
and its flags).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from octracker.errors import OctrackerError, UsageError
from octracker.extract.long_table import table_row_texts
from octracker.extract.publishers import jsonstat
from octracker.extract.publishers.canonical import cell_evidence
from octracker.periods import parse_period
from octracker.store.rows import scalar

#: The evidence of a version that cites a table row by reference (see `octracker.extract.long_table` and
#: `octracker.extract.publishers.canonical`).
REFERENCE = re.compile(r"^(?P<file>.+) \(sha256 (?P<sha256>[0-9a-f]{64})\) (?P<unit>row|line|cell)$")
#: A reference as the views print it: the document, its sha256 and the row, line or cell number.
CITED_ROW = re.compile(r"^(?P<cite>.+ \(sha256 [0-9a-f]{64}\) (?:row|line|cell)) (?P<number>\d+)$")
#: Values printed at most; a broader question is narrowed with more options.
MAX_VALUES = 50


@dataclass(frozen=True)
class Evidence:
    """One current value and the text it was read from."""

    indicator_id: str
    geo: str
    period: str
    source_id: str
    value: float
    #: As the views show it: the sentence or line itself, or `<file> (sha256 <hex>) row <n>` (or `line`, `cell`).
    evidence: str
    #: The line itself: read from the raw store for a reference, else the evidence.
    line: str


def find_evidence(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    *,
    indicator: str | None = None,
    geo: str | None = None,
    period: str | None = None,
    source: str | None = None,
    row: int | None = None,
) -> tuple[list[Evidence], int]:
    """The current values that match (at most MAX_VALUES, in key order) with their lines, and how many match."""
    where, params = _conditions(indicator=indicator, geo=geo, period=period, source=source, row=row)
    matches = f"FROM observation_history WHERE valid_to IS NULL AND {' AND '.join(where)}"
    total = scalar(con, f"SELECT COUNT(*) {matches}", params)
    rows = con.execute(
        "SELECT indicator_id, geo, period_start, period_end, source_id, value, evidence, evidence_row "
        f"{matches} ORDER BY indicator_id, geo, period_start, source_id LIMIT {MAX_VALUES}",
        params,
    ).fetchall()
    lines = _referenced_lines(raw_dir, [(r[6], r[7], r[4]) for r in rows if r[7] is not None])
    found = [
        Evidence(
            indicator_id=ind,
            geo=g,
            period=_period_text(start, end),
            source_id=src,
            value=value,
            evidence=text if number is None else f"{text} {number}",
            line=text if number is None else lines[(text, number, src)],
        )
        for ind, g, start, end, src, value, text, number in rows
    ]
    return found, total


def _conditions(**given: object) -> tuple[list[str], list[object]]:
    if given["row"] is not None and given["source"] is None:
        raise UsageError("--row needs --source: a row number is only meaningful within one source's table")
    if all(v is None for v in given.values()):
        raise UsageError("say which value: --indicator, --geo, --period, or --source with --row")
    where: list[str] = []
    params: list[object] = []
    for column, key in (
        ("indicator_id", "indicator"),
        ("geo", "geo"),
        ("source_id", "source"),
        ("evidence_row", "row"),
    ):
        if given[key] is not None:
            where.append(f"{column} = ?")
            params.append(given[key])
    if given["period"] is not None:
        try:
            start, end, year = parse_period(given["period"])
        except ValueError as exc:
            raise UsageError(f"--period: {exc}") from None
        if start is None:
            where.append("period_start IS NULL")
        elif re.fullmatch(r"\s*\d{4}\s*", str(given["period"])):
            where.append("year = ?")  # a year names every period within it (months, quarters, the year)
            params.append(year)
        else:
            where += ["period_start = ?", "period_end = ?"]
            params += [start, end]
    return where, params


def _referenced_lines(raw_dir: Path, references: list[tuple[str, int, str]]) -> dict[tuple[str, int, str], str]:
    """The rows that references (evidence, number, source id) cite, read from the raw store once per document."""
    by_document: dict[str, list[tuple[int, str]]] = {}
    for text, number, source in references:
        by_document.setdefault(text, []).append((number, source))
    lines: dict[tuple[str, int, str], str] = {}
    for text, cited_rows in by_document.items():
        cited = REFERENCE.match(text)
        if cited is None:
            raise OctrackerError(f"evidence {text!r} with a row number is not a reference to a kept document")
        path = raw_document(raw_dir, cited["sha256"])
        try:
            texts = _cited_texts(path, cited["file"], cited["unit"], cited_rows)
        except LookupError as exc:
            raise OctrackerError(f"{cited['file']} as kept in {path}: {exc}") from None
        lines.update(((text, n, s), t) for (n, s), t in zip(cited_rows, texts, strict=True))
    return lines


def _cited_texts(path: Path, name: str, unit: str, cited: list[tuple[int, str]]) -> list[str]:
    """The text of each (number, source id) cited in the document at `path` (named `name` when it was read)."""
    if unit != "cell":
        return table_row_texts(path, [number for number, _ in cited])
    table = jsonstat.read(path.read_bytes(), name=name)
    if not table.ok:
        raise LookupError(f"not a JSON-stat body octracker reads now ({table.problems[0].message})")
    return cell_evidence(table, cited)


def with_cited_rows(raw_dir: Path, values: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Each value's evidence (evidence text as the views print it, source id) that cites a table row by reference,
    mapped to that row followed by the reference.

    For the report: a document the raw store no longer holds leaves its references as they are (they still
    name the file, its sha256 and the row), rather than failing the whole report.
    """
    references = [
        (m["cite"], int(m["number"]), source)
        for m, source in ((CITED_ROW.match(text), source) for text, source in dict.fromkeys(values))
        if m
    ]
    by_document: dict[str, list[tuple[str, int, str]]] = {}
    for cite, number, source in references:
        reference = REFERENCE.match(cite)
        assert reference is not None  # CITED_ROW's `cite` group is a REFERENCE
        by_document.setdefault(reference["sha256"], []).append((cite, number, source))
    shown: dict[tuple[str, str], str] = {}
    for cited in by_document.values():
        try:
            lines = _referenced_lines(raw_dir, cited)
        except OctrackerError:
            continue
        shown.update(((f"{c} {n}", s), f"{lines[(c, n, s)]} ({c} {n})") for c, n, s in cited)
    return shown


def raw_document(raw_dir: Path, sha256: str) -> Path:
    """The raw store's copy of the document with this sha256."""
    kept = [p for p in (raw_dir / sha256[:2]).glob(f"{sha256}*") if p.is_file()]
    if not kept:
        raise OctrackerError(
            f"the raw store {raw_dir} holds no document with sha256 {sha256}; the cited row cannot be printed "
            "(was the warehouse moved without its data folder?)"
        )
    return kept[0]


def _period_text(start: dt.date | None, end: dt.date | None) -> str:
    if start is None or end is None:
        return "unknown"
    if start.month == 1 and start.day == 1 and end.month == 12 and end.day == 31 and start.year == end.year:
        return str(start.year)
    return f"{start.isoformat()}/{end.isoformat()}"
