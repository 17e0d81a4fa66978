"""A publisher's table as canonical observations: native series, and the curated indicators the catalog maps.

Every published value is loaded under its native id (`estat.crim_off_cat.a.iccs0601.p_hthab`) in the
publisher's unit. When the catalog maps that native id to a curated indicator (`native = [...]` in
`schemas/indicators.toml`), the value is loaded a second time under the curated id, converted to the
catalog's unit (`kg` → `tonnes`); a unit that cannot be converted refuses the file. Cells published without
a value (confidential `c`, not available) are not loaded: a missing number is not a number.
The evidence of a row is a reference to the published cell by its codes (`estat-une_rt_m:
estat.une_rt_m.m.sa.total.pc_act.t, DE, 2025-12 = 3.9`, with its flags): the file itself is kept in the raw
store under the sha256 its source row names. It names no row number, file name or update time, which change
with every vintage: a new vintage revises only the cells whose value or flags changed. A workbook of one sheet
per period (the GI-TOC index) is the exception: its values also name the sheet and row they were read from
(`... = 4.43 (sheet 2023_dataset, row 17)`), where a person finds them among its 193 rows and 30-odd columns; a
value whose row moves in a later workbook is the same statement cited anew, not a revision.
A large table whose records are lines of the file (an SDMX-CSV download of at least REFERENCE_FROM_ROWS rows,
kept in the raw store) cites each value as a long table does: `<file> (sha256 <hex>) line` and the line number in
`_evidence_row`, the record itself printed from the raw store (`octracker.serve.evidence`). A large cube whose rows
are its cells (a JSON-stat body of at least REFERENCE_FROM_ROWS values, kept in the raw store) cites each value by
its cell: `<file> (sha256 <hex>) cell` and the cell's flat index in `_evidence_row`; `octracker evidence` reads the
body again and prints the cell as a small body's evidence reads (`cell_evidence`). Two such references are the same
evidence, so a new vintage still revises only the cells that changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from octracker.content.catalog import Catalog
from octracker.extract import long_table
from octracker.extract.publishers.table import PublisherTable
from octracker.extracts import EXTRACT_SCHEMA, Extract, Problem, empty_observations
from octracker.units import UnitMismatch

#: The unit recorded for a native series whose publisher names none (Comext's value columns).
UNSPECIFIED_UNIT = "unspecified"


def publisher_extract(
    table: PublisherTable, *, source_id: str, catalog: Catalog, document: tuple[str, str] | None = None
) -> Extract:
    """The table's values as canonical rows (native and curated); the table's problems refuse it whole.
    `document` is the file's name and the sha256 the raw store keeps it under, for a large table to cite."""
    if table.problems:
        return Extract(empty_observations(), list(table.problems), left_out=list(table.left_out))
    unit = _reference_unit(table) if table.frame.height >= long_table.REFERENCE_FROM_ROWS else None
    by_reference = document is not None and unit is not None
    # One value for every row, native and curated: the writer takes them once (`Extract.constant`).
    constant: dict[str, object] = {"source_id": source_id, "method": "parsed", "is_partial": False, "as_of": None}
    if by_reference and document is not None:
        constant["evidence"] = f"{document[0]} (sha256 {document[1]}) {unit}"
    valued = table.frame.filter(pl.col("value").is_not_null())
    native = valued.select(
        indicator_id=pl.col("native_id"),
        geo="geo",
        period_start="period_start",
        period_end="period_end",
        year="year",
        value="value",
        unit=pl.col("unit").fill_null(UNSPECIFIED_UNIT),
        qualifier="qualifier",
        is_partial=pl.lit(constant["is_partial"]),
        as_of=pl.lit(constant["as_of"], pl.Date),
        source_id=pl.lit(constant["source_id"]),
        method=pl.lit(constant["method"]),
        evidence=pl.lit(constant["evidence"]) if "evidence" in constant else _evidence(table, pl.lit(source_id)),
        note=pl.lit(None, pl.String),
        flags="flags",
        _line_no="_line_no",
        _raw="_raw",
        _evidence_row=pl.col("_line_no") if by_reference else pl.lit(None, pl.Int64),
    )
    curated, problems = _curated(native, catalog)
    if problems:
        return Extract(empty_observations(), problems, left_out=list(table.left_out))
    frame = pl.concat([native.filter(~pl.col("indicator_id").is_in(list(_catalog_ids(catalog)))), curated])
    columns = {**EXTRACT_SCHEMA, "_evidence_row": pl.Int64()}
    return Extract(
        frame.cast(pl.Schema(columns)).select(list(columns)), left_out=list(table.left_out), constant=constant
    )


def _reference_unit(table: PublisherTable) -> str | None:
    """What a reference to one of the table's rows numbers: a line of the file, a cell of the cube, or nothing."""
    if table.cites_lines:
        return "line"
    return "cell" if table.cites_cells else None


def _evidence(table: PublisherTable, source_id: pl.Expr) -> pl.Expr:
    """A value's evidence written out: its source, codes and value, its flags and, in a workbook, sheet and row."""
    return pl.format(
        "{}: {}, {}, {} = {}{}{}",
        source_id,
        "native_id",
        "geo",
        "period",
        pl.col("value").cast(pl.String),
        pl.when(pl.col("flags").is_not_null()).then(pl.format(" (flags {})", "flags")).otherwise(pl.lit("")),
        _sheet_and_row(table),
    )


def cell_evidence(table: PublisherTable, cells: Sequence[tuple[int, str]]) -> list[str]:
    """What a reference to a cell of a table that cites its cells (`cites_cells`) prints: the evidence a small
    table's value reads, of each cell asked for by its flat index and the source id it was loaded under. Raises
    LookupError for a cell the table holds no value at."""
    asked = pl.DataFrame(list(cells), schema={"_line_no": pl.Int64(), "_source": pl.String()}, orient="row")
    found = asked.join(
        table.frame.filter(pl.col("value").is_not_null()), on="_line_no", how="left", maintain_order="left"
    )
    missing = found.filter(pl.col("value").is_null()).get_column("_line_no").unique(maintain_order=True)
    if missing.len():
        raise LookupError(f"no value at cell {', '.join(map(str, missing))}")
    return found.select(_evidence(table, pl.col("_source"))).to_series().to_list()


def _sheet_and_row(table: PublisherTable) -> pl.Expr:
    """` (sheet <name>, row <n>)` for a workbook of one sheet per period; nothing for other tables."""
    if not table.sheets:
        return pl.lit("")
    sheet = pl.col("period").replace_strict(table.sheets, return_dtype=pl.String)
    return pl.format(" (sheet {}, row {})", sheet, "_line_no")


def _catalog_ids(catalog: Catalog) -> set[str]:
    return {i.id for i in catalog.indicators}


def _curated(native: pl.DataFrame, catalog: Catalog) -> tuple[pl.DataFrame, list[Problem]]:
    """Rows of native series the catalog maps (or that are catalog ids already), in the catalog's units."""
    mapping = {n: i for i in catalog.indicators for n in (i.id, *i.native)}
    series = native.filter(pl.col("indicator_id").is_in(list(mapping))).select("indicator_id", "unit").unique()
    factors: list[tuple[str, str, str, str, float]] = []
    problems: list[Problem] = []
    for native_id, unit in series.sort("indicator_id", "unit").iter_rows():
        indicator = mapping[native_id]
        try:
            factor = catalog.units.factor(unit, indicator.unit)
        except UnitMismatch as exc:
            problems.append(
                Problem(
                    "unit_mismatch",
                    f"{native_id} maps to {indicator.id}, measured in "
                    f"{indicator.unit!r}: {exc}; fix the mapping in schemas/indicators.toml",
                    f"{native_id} [{unit}]",
                )
            )
            continue
        factors.append((native_id, unit, indicator.id, indicator.unit, factor))
    if problems or not factors:
        return native.clear(), problems
    table = pl.DataFrame(factors, schema=["indicator_id", "unit", "_curated", "_curated_unit", "_factor"], orient="row")
    curated = native.join(table, on=["indicator_id", "unit"], how="inner").with_columns(
        note=pl.when(pl.col("indicator_id") == pl.col("_curated"))
        .then(pl.lit(None, pl.String))
        .when(pl.col("_factor") == 1.0)
        .then(pl.format("published as {}", "indicator_id"))
        .otherwise(pl.format("published as {} in {}, converted to {}", "indicator_id", "unit", "_curated_unit")),
        value=pl.col("value") * pl.col("_factor"),
        indicator_id=pl.col("_curated"),
        unit=pl.col("_curated_unit"),
    )
    return curated.drop("_curated", "_curated_unit", "_factor"), []
