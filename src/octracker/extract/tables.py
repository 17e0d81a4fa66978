"""Table readers: the long observation table, the wide index table, and telling the two apart."""

from __future__ import annotations

from pathlib import Path

from octracker.content.catalog import Catalog, name_key
from octracker.errors import InputRefused
from octracker.extract.long_table import REQUIRED_COLUMNS, extract_long_table, long_table_batches
from octracker.extract.table_files import MiB, check_zip, read_head_rows, sniff_format
from octracker.extract.wide_index import (
    COUNTRY_COLUMNS,
    Cell,
    extract_wide_index,
    find_header,
    is_ignored_column,
    xlsx_head_rows,
)

__all__ = ["detect_table_kind", "extract_long_table", "extract_wide_index", "long_table_batches"]


def detect_table_kind(path: Path, catalog: Catalog | None = None) -> str | None:
    """'observations_long', 'oci_wide' or None, from the file's header (format told by magic bytes).

    With a catalog, a wide table needs a column that names an index indicator; without one, any column
    besides Country and the known non-score ones. A workbook that would expand like a zip bomb is refused
    (InputRefused) rather than opened.
    """
    kind = sniff_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq  # only for a Parquet file (see long_table)

        try:
            names = pq.read_schema(path).names
        except Exception:  # a damaged Parquet file is simply not a table we know
            return None
        return "observations_long" if set(REQUIRED_COLUMNS) <= {name_key(n) for n in names} else None
    if kind == "xlsx":
        refused = check_zip(path, 200 * MiB)
        if refused:
            # The caller names the file: `path` may be a copy in the raw store under its content hash.
            raise InputRefused(f"{refused.check}: {refused.message}")
        rows = xlsx_head_rows(path)
    else:
        rows = [(n, [Cell(c, c) for c in cells]) for n, cells in enumerate(read_head_rows(path), start=1)]
    if not rows:
        return None
    if kind == "text" and set(REQUIRED_COLUMNS) <= {name_key(c.text) for c in rows[0][1]}:
        return "observations_long"
    found = find_header(rows)
    if found is None:
        return None
    scores = [h for h in found[1] if h and name_key(h) not in COUNTRY_COLUMNS and not is_ignored_column(h)]
    if catalog is not None:
        scores = [h for h in scores if catalog.by_name(h, prefix="oci.") is not None]
    return "oci_wide" if scores else None
