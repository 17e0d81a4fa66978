"""`datapackage.json` beside an export: a Frictionless (Tabular) Data Package describing its files.

Written per the Data Package v1 specification (https://specs.frictionlessdata.io/data-package/): one resource
per exported file with its path, format, size, sha256 and Table Schema (field names and types from the
warehouse), the indicators' units and the sources the values come from. Readers such as `frictionless
validate datapackage.json` or pandas' and R's datapackage loaders can open the folder without a word from us.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import duckdb

PROFILE = "tabular-data-package"
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
#: DuckDB column types to Table Schema field types (anything else is `any`).
FIELD_TYPES = (
    (re.compile(r"\[\]$"), "array"),
    (re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$"), "integer"),
    (re.compile(r"^(DOUBLE|FLOAT|REAL|DECIMAL.*)$"), "number"),
    (re.compile(r"^BOOLEAN$"), "boolean"),
    (re.compile(r"^DATE$"), "date"),
    (re.compile(r"^TIMESTAMP.*$"), "datetime"),
    (re.compile(r"^(VARCHAR|UUID)$"), "string"),
)
#: What a column means wherever it appears; the rest are described on the analysts' page of the docs.
FIELD_DESCRIPTIONS = {
    "indicator_id": "Indicator id (see the indicators resource for its name and unit)",
    "geo": "ISO 3166-1 alpha-2 country, ISO 3166-2 region, UN/LOCODE port, or EU",
    "value": "The value, in the unit named by the row's `unit` (or the indicator's unit)",
    "unit": "Unit of `value`, as the indicator catalog names it",
    "pct_change": "Change in percent of the previous value",
    "qualifier": "exact, approx, lower_bound or upper_bound",
    "is_partial": "True for a year to date (see as_of)",
    "evidence": "The sentence or line of the source the value was read from",
    "method": "parsed, derived, computed or curated",
    "flags": "Publisher's observation flags as published (p provisional, e estimated, b break in series)",
    "source_id": "Source document or feed snapshot (see the sources resource)",
}
#: The primary key of each exported relation, where it has one.
PRIMARY_KEYS = {
    "indicators": ["indicator_id"],
    "sources": ["source_id"],
    "edition_changes": ["indicator_id", "geo", "year"],
    "index_ranks": ["indicator_id", "geo", "year"],
}


def field_type(duckdb_type: str) -> str:
    for pattern, name in FIELD_TYPES:
        if pattern.search(duckdb_type):
            return name
    return "any"


def table_schema(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, Any]:
    """The Table Schema of a relation: every column with its type, and what the common ones mean."""
    columns = con.execute(f'DESCRIBE "{relation}"').fetchall()
    fields = []
    for name, column_type, *_ in columns:
        field: dict[str, Any] = {"name": name, "type": field_type(column_type)}
        if field["type"] == "datetime":
            field["format"] = "any"  # written as `2025-09-10 12:00:00`, not only the default ISO form with T
        if name in FIELD_DESCRIPTIONS:
            field["description"] = FIELD_DESCRIPTIONS[name]
        fields.append(field)
    schema: dict[str, Any] = {"fields": fields}
    names = {f["name"] for f in fields}
    if relation in PRIMARY_KEYS and set(PRIMARY_KEYS[relation]) <= names:
        schema["primaryKey"] = PRIMARY_KEYS[relation]
    return schema


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def units(con: duckdb.DuckDBPyConnection, relations: set[str]) -> dict[str, str]:
    """Each indicator's unit, from the catalog table."""
    if "indicators" not in relations:
        return {}
    return dict(con.execute("SELECT indicator_id, unit FROM indicators ORDER BY indicator_id").fetchall())


def package_sources(con: duckdb.DuckDBPyConnection, relations: set[str]) -> list[dict[str, str]]:
    """The documents and feeds the values come from, as Data Package `sources` (title, path)."""
    if "sources" not in relations:
        return []
    rows = con.execute(
        "SELECT source_id, COALESCE(title, source_id), url, publisher FROM sources ORDER BY source_id"
    ).fetchall()
    listed = []
    for source_id, title, url, publisher in rows:
        item = {"title": f"{title} ({publisher})" if publisher else title, "id": source_id}
        if url:
            item["path"] = url
        listed.append(item)
    return listed


def describe_package(
    con: duckdb.DuckDBPyConnection, files: list[tuple[str, Path, int]], fmt: str, relations: set[str]
) -> dict[str, Any]:
    """The package: one resource per written file (relation, path, rows), with units and sources."""
    resources = []
    for relation, path, rows in files:
        resource: dict[str, Any] = {
            "profile": "tabular-data-resource",
            "name": relation,
            "path": path.name,
            "format": fmt,
            "mediatype": MEDIA_TYPES[fmt],
            "bytes": path.stat().st_size,
            "hash": f"sha256:{file_sha256(path)}",
            "rows": rows,
            "schema": table_schema(con, relation),
        }
        if fmt == "csv":
            resource["encoding"] = "utf-8"
            resource["dialect"] = {"delimiter": ",", "header": True, "doubleQuote": True}
        resources.append(resource)
    return {
        "profile": PROFILE,
        "name": "octracker-export",
        "title": "octracker: organized-crime indicators, their changes and alerts",
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "resources": resources,
        "sources": package_sources(con, relations),
        "units": units(con, relations),
    }
