"""Exports of the analyst views to Parquet or CSV files, read from the published copy.

The rows are read through the same locked-down connection as `octracker sql` and written by Python, so
DuckDB itself never gets file access. CSV cells that a spreadsheet would run as a formula are quoted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from octracker.csv_rows import write_csv_rows
from octracker.errors import UsageError
from octracker.serve.datapackage import describe_package
from octracker.store.query import existing_relations, locked_reader

#: What an export holds, in this order; views a warehouse does not have yet are skipped and reported. The
#: catalog (`indicators`: names and units) and `sources` travel with the values they describe.
EXPORTED_RELATIONS = (
    "series",
    "observations",
    "yoy_changes",
    "edition_changes",
    "trend_alerts",
    "changes",
    "index_ranks",
    "indicators",
    "sources",
)
PACKAGE_FILE = "datapackage.json"
EXPORT_FORMATS = ("parquet", "csv")
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ExportedFile:
    relation: str
    path: Path
    rows: int


@dataclass
class ExportResult:
    written: list[ExportedFile] = field(default_factory=list)
    #: Relations not in this warehouse (e.g. alerts not built yet).
    skipped: list[str] = field(default_factory=list)
    #: The Data Package descriptor of the written files.
    package: Path | None = None

    def to_dict(self) -> dict:
        return {
            "written": [{"relation": f.relation, "path": str(f.path), "rows": f.rows} for f in self.written],
            "skipped": self.skipped,
            "package": None if self.package is None else str(self.package),
        }


def write_parquet(reader, target: Path) -> int:
    rows = 0
    with pq.ParquetWriter(target, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def write_csv(reader, target: Path) -> int:
    rows = 0
    with open(target, "w", encoding="utf-8", newline="") as fh:
        write_csv_rows(fh, [], reader.schema.names)
        for batch in reader:
            columns = [column.to_pylist() for column in batch.columns]
            write_csv_rows(fh, list(zip(*columns)))
            rows += batch.num_rows
    return rows


def export_relations(
    published: Path,
    out_dir: Path,
    fmt: str,
    relations: tuple[str, ...] = EXPORTED_RELATIONS,
) -> ExportResult:
    """Write each relation that exists to `out_dir/<relation>.<fmt>`; each file appears whole or not at all."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"export format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = write_parquet if fmt == "parquet" else write_csv
    result = ExportResult()
    with locked_reader(published) as con:
        present = existing_relations(con)
        for relation in relations:
            if relation not in present:
                result.skipped.append(relation)
                continue
            target = out_dir / f"{relation}.{fmt}"
            tmp = out_dir / f".{target.name}.{os.getpid()}.tmp"
            # Sorted on every column so two exports of the same warehouse are the same bytes.
            reader = con.execute(f'SELECT * FROM "{relation}" ORDER BY ALL').to_arrow_reader(BATCH_ROWS)
            try:
                rows = writer(reader, tmp)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            result.written.append(ExportedFile(relation, target, rows))
        files = [(f.relation, f.path, f.rows) for f in result.written]
        package = describe_package(con, files, fmt, present)
    result.package = write_whole(out_dir / PACKAGE_FILE, json.dumps(package, indent=2, ensure_ascii=False) + "\n")
    return result


def write_whole(target: Path, text: str) -> Path:
    """Write a text file whole or not at all (a reader never sees half of it)."""
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
