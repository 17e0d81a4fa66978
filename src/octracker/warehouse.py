"""The DuckDB warehouse: opening it as the one writer, migrations, views, and the published read-only copy."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from octracker.alert_rules import load_alert_rules, sync_alert_rules
from octracker.catalog import Catalog
from octracker.errors import OctrackerError, SpecError, WarehouseBusy
from octracker.settings import Settings

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
VIEW_NAME = re.compile(r"^(\d{2})_([a-z0-9_]+)\.sql$")


def utc_now() -> dt.datetime:
    """Naive UTC timestamp, the form every TIMESTAMP column holds."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@contextlib.contextmanager
def open_writer(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing, waiting up to `lock_timeout_s` for another writer to finish."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + settings.lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(settings.warehouse))
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise OctrackerError(f"{settings.warehouse}: cannot open the warehouse: {exc}") from None
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"{settings.warehouse}: another octracker process is writing to the warehouse "
                    f"(waited {settings.lock_timeout_s:.0f} s); try again when it has finished"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        yield con
    finally:
        con.close()


def open_reader(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a published copy (never the file the writer holds)."""
    if not path.exists():
        raise OctrackerError(f"{path}: no published warehouse yet; run `octracker refresh` first")
    return duckdb.connect(str(path), read_only=True)


def list_migrations(migrations_dir: Path) -> list[tuple[int, str, Path]]:
    """Migration files in order; a misnamed file or a repeated number is refused."""
    found: dict[int, tuple[int, str, Path]] = {}
    for path in sorted(migrations_dir.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise SpecError(f"{path}: migration files are named NNNN_snake_name.sql")
        version = int(match.group(1))
        if version in found:
            raise SpecError(f"{path}: migration number {version} is also used by {found[version][2].name}")
        found[version] = (version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def apply_migrations(con: duckdb.DuckDBPyConnection, migrations_dir: Path) -> list[str]:
    """Apply the migrations not yet recorded, each in one transaction together with its record."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, path in list_migrations(migrations_dir):
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utc_now()])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise OctrackerError(f"{path}: migration failed and was rolled back: {exc}") from None
        applied.append(path.name)
    return applied


def apply_views(con: duckdb.DuckDBPyConnection, views_dir: Path) -> list[str]:
    """Re-create every view from `warehouse/views/NN_name.sql`, in file order, in one transaction."""
    paths = sorted(views_dir.glob("*.sql"))
    for path in paths:
        if not VIEW_NAME.match(path.name):
            raise SpecError(f"{path}: view files are named NN_snake_name.sql")
    con.execute("BEGIN TRANSACTION")
    try:
        for path in paths:
            con.execute(path.read_text(encoding="utf-8"))
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise OctrackerError(f"{path}: view failed to apply; the previous views are kept: {exc}") from None
    return [p.name for p in paths]


def sync_indicators(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Make the `indicators` table equal the catalog file (replaced whole, in one transaction)."""
    rows = [
        (i.id, i.name, i.unit, i.direction, i.frequency, i.description, i.min, i.max, i.group, i.aggregate_of)
        for i in catalog.indicators
    ]
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM indicators")
    con.executemany("INSERT INTO indicators VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("COMMIT")


def prepare_warehouse(con: duckdb.DuckDBPyConnection, settings: Settings, catalog: Catalog) -> None:
    """Bring a writer connection up to date: migrations, catalog, alert rules, views."""
    apply_migrations(con, settings.migrations_dir)
    sync_indicators(con, catalog)
    sync_alert_rules(con, load_alert_rules(settings.schemas_dir / "alert_rules.toml"))
    apply_views(con, settings.views_dir)


def publish(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Copy the checkpointed warehouse to the published path atomically; readers keep their old copy."""
    con.execute("CHECKPOINT")
    target = settings.published_path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(settings.warehouse, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    # os.replace swaps the name only: an analyst with the old copy open keeps reading it untouched.
    os.replace(tmp, target)
    return target
