"""What "the warehouse is unchanged" means in the hostile tests, as a snapshot to compare.

A snapshot holds the row count of every table and of `observation_history`, and a checksum of every row of
`observation_history` and `sources`.
A refusal is itself recorded, so `runs` (a failed run), `quarantine` (its reasons) and `inbox_files` (the
refused file) may grow: that is expected, and each test checks those rows separately. Nothing else may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

#: Bookkeeping tables that a refused file or a failed run adds rows to.
GROWS_ON_REFUSAL = frozenset({"runs", "quarantine", "inbox_files"})
#: The view of every version ever loaded.
HISTORY = "observation_history"
#: Relations whose every row (not just their count) must stay the same.
CHECKSUMMED = (HISTORY, "sources")


@dataclass(frozen=True)
class WarehouseState:
    counts: dict[str, int]
    checksums: dict[str, tuple[int, int]]

    def changes_since(self, before: WarehouseState, *, may_grow: frozenset[str] = GROWS_ON_REFUSAL) -> list[str]:
        """What differs from `before`, apart from growth of the tables in `may_grow` (empty when unchanged)."""
        changes = []
        for table in sorted(set(before.counts) | set(self.counts)):
            was, now = before.counts.get(table), self.counts.get(table)
            if table in may_grow and was is not None and now is not None and now >= was:
                continue
            if was != now:
                changes.append(f"{table}: {was} rows before, {now} after")
        for table in CHECKSUMMED:
            if before.checksums[table] != self.checksums[table]:
                changes.append(f"{table}: the rows differ (checksum)")
        return changes


def snapshot(path: Path) -> WarehouseState:
    """Row counts of every table and row checksums of `observation_history` and `sources` in the file at `path`."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        # The history as readers see it (a view over the stored versions and their loads), with the tables.
        counts = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in [*tables, HISTORY]}
        # A sum of row hashes: independent of row order, and a changed, added or removed row changes it.
        checksums = {
            t: con.execute(f"SELECT COUNT(*), COALESCE(SUM(hash(r)::HUGEINT), 0) FROM {t} AS r").fetchone()
            for t in CHECKSUMMED
        }
    finally:
        con.close()
    return WarehouseState(counts, checksums)


def assert_unchanged(path: Path, before: WarehouseState, *, may_grow: frozenset[str] = GROWS_ON_REFUSAL) -> None:
    changes = snapshot(path).changes_since(before, may_grow=may_grow)
    assert not changes, "the warehouse changed: " + "; ".join(changes)
