"""`migrate-to`: copy a local warehouse file into a new lake, table by table, and prove the copy is exact."""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from octracker.errors import OctrackerError, UsageError, WarehouseBusy
from octracker.store.lake import LakeTarget, is_lock_error, sql_literal
from octracker.store.rows import one_row, scalar
from octracker.store.settings import DEFAULT_WAREHOUSE, Settings
from octracker.store.warehouse import apply_migrations, apply_views, open_writer
from octracker.store.writers import write_transaction

SOURCE_ALIAS = "source_file"


@dataclass(frozen=True)
class TableCopy:
    """One table as found in the file and as read back from the lake."""

    table: str
    rows: int
    checksum: int
    lake_rows: int
    lake_checksum: int

    @property
    def verified(self) -> bool:
        return (self.rows, self.checksum) == (self.lake_rows, self.lake_checksum)


def table_fingerprint(con: duckdb.DuckDBPyConnection, qualified: str) -> tuple[int, int]:
    """Row count and an order-free checksum of every value (duplicates count, unlike XOR)."""
    return one_row(con, f"SELECT COUNT(*), COALESCE(SUM(hash(t)::HUGEINT), 0) FROM {qualified} AS t")


def attach_source(con: duckdb.DuckDBPyConnection, path: Path, timeout_s: float) -> None:
    """Attach the warehouse file read-only, waiting while a refresh holds it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            con.execute(f"ATTACH {sql_literal(str(path))} AS {SOURCE_ALIAS} (READ_ONLY)")
            return
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise OctrackerError(f"{path}: cannot read the warehouse: {exc}") from None
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"{path}: a refresh is writing the warehouse (waited {timeout_s:.0f} s); "
                    "copy it when the refresh has finished"
                ) from None
            time.sleep(0.5)


def source_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT table_name, sql FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "ORDER BY table_name",
        [SOURCE_ALIAS],
    ).fetchall()


def copy_tables(con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str]]) -> list[TableCopy]:
    """Create each table with the file's own DDL, copy its rows, and read both sides back."""
    copies = []
    for name, ddl in tables:
        con.execute(ddl)
        con.execute(f'INSERT INTO "{name}" SELECT * FROM {SOURCE_ALIAS}.main."{name}"')
        rows, checksum = table_fingerprint(con, f'{SOURCE_ALIAS}.main."{name}"')
        lake_rows, lake_checksum = table_fingerprint(con, f'"{name}"')
        copies.append(TableCopy(name, rows, checksum, lake_rows, lake_checksum))
    bad = [c.table for c in copies if not c.verified]
    if bad:
        raise OctrackerError(
            f"the copy of {', '.join(bad)} differs from the file (rows or checksum); nothing was committed to the lake"
        )
    return copies


def copy_to_lake(settings: Settings, target: LakeTarget) -> list[TableCopy]:
    """Copy every table of the warehouse file into the empty lake in one transaction, verified before commit.

    Views and macros are then applied from the project (they are code, re-applied on every run anyway),
    and the raw store is copied when the lake keeps it elsewhere.
    """
    if settings.lake is not None:
        raise UsageError("migrate-to copies from a warehouse file: pass it with --warehouse PATH (not a lake)")
    if not settings.warehouse.exists():
        raise UsageError(f"{settings.warehouse}: no warehouse file to copy; pass it with --warehouse PATH")
    # Run-time files go where `--warehouse TARGET` will look for them from now on.
    lake_settings = dataclasses.replace(
        settings, lake=target, warehouse=target.catalog_path or settings.project / DEFAULT_WAREHOUSE
    )
    with open_writer(lake_settings) as con:
        existing = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
        ]
        if existing:
            raise UsageError(
                f"{target.describe()} already holds tables ({', '.join(sorted(existing))}); "
                "migrate-to copies into a new, empty lake only"
            )
        attach_source(con, settings.warehouse, settings.lock_timeout_s)
        tables = source_tables(con)
        if "staged_runs" in {name for name, _ in tables} and scalar(
            con, f"SELECT EXISTS (SELECT 1 FROM {SOURCE_ALIAS}.main.staged_runs)"
        ):
            # Rows of a load stopped between its stages (see octracker.store.staging): not data, never copied.
            raise UsageError(
                f"{settings.warehouse}: a load that did not finish left rows in it; run `octracker refresh` once "
                "(it removes them), then copy it"
            )
        copies = write_transaction(con, lambda: copy_tables(con, tables), what="migrate-to")
        con.execute(f"DETACH {SOURCE_ALIAS}")
        # Migrations newer than the file's (none when it was refreshed with this project) and the views.
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, settings.views_dir)
    if lake_settings.raw_dir != settings.raw_dir and settings.raw_dir.is_dir():
        shutil.copytree(settings.raw_dir, lake_settings.raw_dir, dirs_exist_ok=True)
    return copies
