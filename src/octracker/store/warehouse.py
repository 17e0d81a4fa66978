"""The warehouse: opening it for writing or reading (a DuckDB file or a DuckLake), migrations, views, publishing."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import duckdb

from octracker.content.alert_rules import AlertRule, load_alert_places, load_alert_rules
from octracker.content.catalog import Catalog, load_catalog
from octracker.errors import OctrackerError, PublishFailed, SpecError, WarehouseBusy
from octracker.store.findings import findings_inputs_changed
from octracker.store.lake import DuckConfig, LakeTarget, connect_lake, describe_attach_error, is_lock_error
from octracker.store.pandas_lookups import pandas_lookups_answered
from octracker.store.query import reader_config
from octracker.store.rows import one_row
from octracker.store.settings import Settings
from octracker.store.spill import SPILL_SUFFIX, new_spill_folder, remove_dead_spill_folders
from octracker.store.staging import discard_staged
from octracker.store.writers import forget_owed_work, open_shared_lake_writer, owes_work, write_transaction
from octracker.user_cache import user_cache_folder

log = logging.getLogger("octracker.store.warehouse")

#: The storage format of a new warehouse file: DuckDB 1.3's, the oldest with DICT_FSST text compression.
#: DuckDB's default for a new file is 0.10's format, whose compression of text columns made writing a table's
#: rows about a fifth slower at the same file size (1M rows: 1.03 s against 0.80 s, 50 MB against 49 MB).
#: Such a file opens in DuckDB 1.3 or newer. A file that exists keeps the format it was made in.
FILE_STORAGE_VERSION = "v1.3.0"
#: DuckDB memory a writer may use (what it holds of the tables it writes, and the joins, sorts and windows of its
#: checks), a warehouse file's or a lake's; past it, DuckDB spills to a folder ending SPILL_SUFFIX beside the
#: warehouse (see `writer_config`), removed when the writer closes. Without a limit DuckDB takes up to 80 % of the
#: machine's memory: the alert findings of a first load of ten million neighbourhood counts took 16.9 GB before they
#: were bounded.
WRITER_MEMORY_LIMIT = "4GB"

#: In a migration, `/* file: SQL */` is SQL for a warehouse file in that format or newer only, and a comment
#: elsewhere: a storage hint that DuckLake refuses (it keeps Parquet files: no compression per column) and an
#: older file format would ignore for worse (DuckDB 0.10's format stores a ZSTD column uncompressed).
FILE_ONLY_SQL = re.compile(r"/\*\s*file:\s*(.*?)\s*\*/", re.S)

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
VIEW_NAME = re.compile(r"^(\d{2})_([a-z0-9_]+)\.sql$")


def utc_now() -> dt.datetime:
    """Naive UTC timestamp, the form every TIMESTAMP column holds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def connect_waiting(
    connect: Callable[[], duckdb.DuckDBPyConnection], where: str, timeout_s: float
) -> duckdb.DuckDBPyConnection:
    """Connect, waiting up to `timeout_s` while another process holds the DuckDB file lock."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return connect()
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(f"{where}: {lock_holder(str(exc))} (waited {timeout_s:.0f} s)") from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def is_octracker_command(args: list[str]) -> bool:
    """Whether a command line runs octracker: its console script (alone or under Python), or `-m octracker`."""
    if any(Path(a).name == "octracker" for a in args[:2]):
        return True
    return any(a == "-m" and b.split(".")[0] == "octracker" for a, b in zip(args, args[1:]))


LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def lock_holder(message: str) -> str:
    """Who holds the warehouse file, from DuckDB's lock error: octracker itself, or another program by name."""
    found = LOCK_HOLDER.search(message)
    if found is None:
        return "another process holds the warehouse file open; try again when it has finished"
    pid = found["pid"]
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        args = [found["program"]]
    command = " ".join(args).strip()
    if is_octracker_command([a for a in args if a]):
        return f"another octracker process (PID {pid}) is writing to the warehouse; try again when it has finished"
    shown = command if len(command) <= 80 else command[:79] + "…"
    return (
        f"the warehouse file is locked by another program, PID {pid} ({shown}); octracker cannot write while it "
        "holds the file open: close it there (a DuckDB shell or notebook should read the published copy instead), "
        "then try again"
    )


#: One writer at a time within this process, per warehouse. DuckDB's file lock keeps other processes out, but
#: a second connection in the same process joins the same database: two threads (the scheduler's pipeline
#: jobs and its alert delivery) would write side by side, and one could publish while the other is half-way.
_PROCESS_WRITERS: dict[str, threading.RLock] = {}
_PROCESS_WRITERS_GUARD = threading.Lock()


@contextlib.contextmanager
def this_process_writer(where: str, timeout_s: float) -> Iterator[None]:
    """Hold `where`'s in-process writer lock, waiting up to `timeout_s` for another thread of this process.

    Re-entrant: a thread that holds it may open the writer again (as DuckDB lets one process do).
    """
    with _PROCESS_WRITERS_GUARD:
        lock = _PROCESS_WRITERS.setdefault(where, threading.RLock())
    if not lock.acquire(timeout=max(timeout_s, 0.0)):
        raise WarehouseBusy(
            f"{where}: another job of this process is writing to the warehouse (waited {timeout_s:.0f} s); "
            "it runs again at its next fire time"
        )
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def open_writer(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing, waiting up to `lock_timeout_s` for another writer to finish.

    A lake with its catalog in PostgreSQL takes many writer processes at once (see `octracker.store.writers`). While
    it is open, DuckDB's look-ups of pandas are answered at once (see `octracker.store.pandas_lookups`).
    """
    lake = settings.lake
    with pandas_lookups_answered():
        if lake is not None and lake.catalog_kind == "postgres":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            with open_shared_lake_writer(lake, settings.lock_timeout_s, config=writer_config(settings)) as con:
                yield con
            return
        where = str(settings.warehouse.resolve()) if lake is None else lake.describe()
        with this_process_writer(where, settings.lock_timeout_s), _open_one_writer(settings) as con:
            yield con


@contextlib.contextmanager
def _open_one_writer(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    lake = settings.lake
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = writer_config(settings)
    try:
        if lake is None:
            # Readers of the published copy that were killed left their spill folders there.
            remove_dead_spill_folders(settings.published_path)
            config["storage_compatibility_version"] = FILE_STORAGE_VERSION
            con = connect_waiting(
                lambda: duckdb.connect(str(settings.warehouse), config=config),
                str(settings.warehouse),
                settings.lock_timeout_s,
            )
        else:
            con = connect_waiting(
                lambda: connect_lake(lake, read_only=False, config=config), lake.describe(), settings.lock_timeout_s
            )
    except duckdb.Error as exc:
        if lake is not None:
            raise OctrackerError(describe_attach_error(lake, exc)) from None
        raise OctrackerError(f"{settings.warehouse}: cannot open the warehouse: {exc}") from None
    try:
        yield con
    finally:
        forget_owed_work(con)  # the connection's id may be another's next
        con.close()


def writer_config(settings: Settings) -> DuckConfig:
    """A writer's memory bound (WRITER_MEMORY_LIMIT) and the folder it spills to past it."""
    spill = writer_temp_directory(settings.warehouse) if settings.lake is None else new_spill_folder(settings.warehouse)
    return {"memory_limit": WRITER_MEMORY_LIMIT, "temp_directory": str(spill)}


def writer_temp_directory(warehouse: Path) -> Path:
    """Where the one writer of the file `warehouse` spills what exceeds WRITER_MEMORY_LIMIT (DuckDB's own default
    place, named). A lake's writers run side by side, in memory: each spills to a folder of its own beside the lake's
    run-time files (see `octracker.store.spill`)."""
    return warehouse.with_name(warehouse.name + SPILL_SUFFIX)


def project_catalog(settings: Settings) -> Catalog:
    """The project's indicator catalog (`schemas/indicators.toml`)."""
    return load_catalog(settings.schemas_dir / "indicators.toml")


@contextlib.contextmanager
def writer_session(
    settings: Settings, *, publish_after: bool = True
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Catalog]]:
    """A write to the warehouse: the catalog read, the writer opened, schema, catalog, alert rules and views made
    current, then (when the work succeeded and `publish_after`) the read-only copy published.

    Work that raises publishes nothing.
    """
    catalog = project_catalog(settings)
    template = new_warehouse_template(settings)
    copied = None if template is None else copy_template(template, settings.warehouse)
    with open_writer(settings) as con:
        # Kept only by the process that made the warehouse: another writer may have made it (and loaded it) since. A
        # copy of the template of another catalog or alert rules is this project's template once they are written.
        made_here = template is not None and (copied != template if copied else not holds_tables(con))
        prepare_warehouse(con, settings, catalog, from_template=copied is not None)
        if made_here and template is not None:
            keep_template(con, settings.warehouse, template)
        yield con, catalog
        if publish_after:
            publish(con, settings)


#: Templates of new warehouses kept at most (each about 2 MB), the most recently used.
TEMPLATES_KEPT = 8


def template_cache() -> Path | None:
    """Where templates of new warehouse files are kept: a folder of the user's cache (see `user_cache_folder`)."""
    cache = user_cache_folder()
    return None if cache is None else cache / "warehouse-templates"


def new_warehouse_template(settings: Settings) -> Path | None:
    """The template a new warehouse file of these settings is a copy of (kept or yet to be); None for a lake or a
    warehouse file that exists.

    A new warehouse is made once by its migrations and views (0.1-0.2 s of DuckDB binding 20 views), then kept as
    a template named by the sha256 of what made it: DuckDB's version, the file format, this module and every
    migration and view file; and by the sha256 of the project's catalog and alert rules files, which it holds
    written. The next new warehouse of the same project is a copy of it, whose catalog, alert rules and places are
    found current; one of another project's content is a copy of the latest template of the same schema, takes its
    own catalog, alert rules and places as any warehouse does (0.02-0.04 s, the findings stored again), and is kept
    as its project's template (see `copy_template`).
    """
    warehouse = settings.warehouse
    if settings.lake is not None or warehouse.exists() or Path(f"{warehouse}.wal").exists():
        return None
    cache = template_cache()
    try:
        files = [m[2] for m in list_migrations(settings.migrations_dir)] + view_files(settings.views_dir)
        digest = hashlib.sha256(f"duckdb {duckdb.__version__} {FILE_STORAGE_VERSION}\n".encode())
        digest.update(Path(__file__).read_bytes())
        for path in files:
            digest.update(f"{path.parent.name}/{path.name} {path.stat().st_size}\n".encode())
            digest.update(path.read_bytes())
        content = hashlib.sha256()
        for path in (settings.schemas_dir / "indicators.toml", settings.schemas_dir / "alert_rules.toml"):
            found = path.read_bytes() if path.is_file() else None
            content.update(f"{path.name} {'-' if found is None else len(found)}\n".encode())
            content.update(found or b"")
    except (SpecError, OSError):
        return None  # made without: the migrations or views say what is wrong with them as they apply
    return None if cache is None else cache / f"{digest.hexdigest()}{TEMPLATE_CONTENT}{content.hexdigest()[:32]}.duckdb"


#: Between the schema's digest and the content's in a template's name.
TEMPLATE_CONTENT = "-content-"


def copy_template(template: Path, warehouse: Path) -> Path | None:
    """Make the new warehouse file a copy of `template`, if kept, else of the latest template of the same schema made
    with another catalog or alert rules; the template copied, or None when there is none or a file came first
    (another writer made the warehouse meanwhile: it is opened as it is)."""
    source = template
    if not template.is_file():
        schema = template.name.partition(TEMPLATE_CONTENT)[0]
        others = [p for p in template.parent.glob(f"{schema}{TEMPLATE_CONTENT}*.duckdb") if p.is_file()]
        if not others:
            return None
        source = max(others, key=lambda p: p.stat().st_mtime)
    tmp = warehouse.with_name(f".{warehouse.name}.{os.getpid()}.new")
    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.link(tmp, warehouse)  # only where no file is yet
        os.utime(source)  # used: kept the longer (see `keep_template`)
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return source


def holds_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's database has any table yet (a new DuckDB file has none)."""
    return bool(one_row(con, "SELECT COUNT(*) FROM duckdb_tables() WHERE database_name = current_database()")[0])


def keep_template(con: duckdb.DuckDBPyConnection, warehouse: Path, template: Path) -> None:
    """Keep the new warehouse, prepared and still empty, as the template of the next (see `new_warehouse_template`);
    a template that cannot be written is done without."""
    tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
    try:
        con.execute("CHECKPOINT")
        template.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(warehouse, tmp)
        os.replace(tmp, template)  # whole or not at all: another process may be copying it
        # A schema edited often leaves a template per version: the most recently used are kept.
        kept = sorted(template.parent.glob("*.duckdb"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[TEMPLATES_KEPT:]:
            old.unlink(missing_ok=True)
    except (OSError, duckdb.Error) as exc:
        log.debug("%s: no template kept for new warehouses: %s", template, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def open_reader(target: Path | LakeTarget) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a published copy (never the file the writer holds) or to a lake, not locked down
    (`octracker.store.query.open_locked_reader` is), with every reader's memory bound and spill folder
    (`octracker.store.query.reader_config`)."""
    if isinstance(target, LakeTarget):
        try:
            return connect_lake(target, read_only=True, config=reader_config(target))
        except duckdb.Error as exc:
            raise OctrackerError(describe_attach_error(target, exc)) from None
    if not target.exists():
        raise OctrackerError(f"{target}: no published warehouse yet; run `octracker refresh` first")
    return duckdb.connect(str(target), read_only=True, config=reader_config(target))


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


def takes_file_only_sql(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's database is a DuckDB file in FILE_STORAGE_VERSION's format or newer."""
    kind, tags = one_row(con, "SELECT type, tags FROM duckdb_databases() WHERE database_name = current_database()")
    found = re.match(r"v(\d+)\.(\d+)\.(\d+)", (tags or {}).get("storage_version", ""))
    wanted = tuple(int(n) for n in FILE_STORAGE_VERSION[1:].split("."))
    return kind == "duckdb" and found is not None and tuple(int(n) for n in found.groups()) >= wanted


def migration_sql(path: Path, file_only: bool) -> str:
    """The migration's SQL, with its `/* file: ... */` parts as SQL when `file_only` (see FILE_ONLY_SQL)."""
    text = path.read_text(encoding="utf-8")
    return FILE_ONLY_SQL.sub(lambda m: m.group(1), text) if file_only else text


def apply_migrations(con: duckdb.DuckDBPyConnection, migrations_dir: Path) -> list[str]:
    """Apply the migrations not yet recorded, each together with its record: all in one transaction, or, when one
    of them fails, each in a transaction of its own."""
    write_transaction(
        con,
        lambda: con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        ),
        what="schema_migrations",
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    pending = [m for m in list_migrations(migrations_dir) if m[0] not in done]
    # Asked once, and only when a migration is due: most refreshes have none to apply.
    file_only = bool(pending) and takes_file_only_sql(con)
    together: duckdb.Error | None = None
    if len(pending) > 1:
        # A new warehouse: every migration in one transaction, each with its record (14 commits and checks took
        # 0.04 s on a quiet machine, 0.2-0.4 s on a busy one). Should one fail, they are applied one by one below,
        # so that those before it stay applied and the failing file is named.
        try:
            return write_transaction(con, lambda: _apply_pending(con, pending, file_only), what="migrations")
        except duckdb.Error as exc:
            together = exc
    applied: list[str] = []
    for migration in pending:
        path = migration[2]
        try:
            applied += write_transaction(
                con, lambda: _apply_pending(con, [migration], file_only), what=f"migration {path.name}"
            )
        except duckdb.Error as exc:
            # The error of the migrations applied together stays attached (shown with --debug).
            raise OctrackerError(f"{path}: migration failed and was rolled back: {exc}") from together or exc
    if together is not None:
        # Each applies alone but not with the others (a CHECKPOINT, say, after another file's changes): say so.
        log.warning(
            "%s: the %d migrations failed when applied in one transaction (%s); applied one by one instead",
            migrations_dir,
            len(pending),
            str(together).strip().splitlines()[0],
        )
    return applied


def view_files(views_dir: Path) -> list[Path]:
    """The view files in the order they are applied; a misnamed file is refused."""
    paths = sorted(views_dir.glob("*.sql"))
    for path in paths:
        if not VIEW_NAME.match(path.name):
            raise SpecError(f"{path}: view files are named NN_snake_name.sql")
    return paths


def _apply_pending(con: duckdb.DuckDBPyConnection, pending: list[tuple[int, str, Path]], file_only: bool) -> list[str]:
    """Apply these migrations and record each, in the caller's transaction; those another writer applied meanwhile
    are left out."""
    # Read again inside the transaction: another writer of a lake may have applied some since they were listed.
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    todo = [(version, name, path) for version, name, path in pending if version not in done]
    if not todo:
        return []
    # One script, each migration followed by its record: a new warehouse's 14 files in one call to DuckDB rather
    # than 28. The values are written out: a version is a number and a name matched MIGRATION_NAME.
    now = utc_now().isoformat(sep=" ")
    con.execute(
        "\n".join(
            # The file's last statement ends on a line of its own: the file may end in a comment.
            f"{migration_sql(path, file_only)}\n;\n"
            f"INSERT INTO schema_migrations VALUES ({int(version)}, '{name}', TIMESTAMP '{now}');"
            for version, name, path in todo
        )
    )
    return [path.name for _, _, path in todo]


def apply_views(con: duckdb.DuckDBPyConnection, views_dir: Path, *, digest: str | None = None) -> list[str]:
    """Re-create every view from `warehouse/views/NN_name.sql`, in file order, in one transaction, and store the
    alert findings the new views compute in it.

    With `digest` (see `views_digest`), it is recorded in `applied_views` in the same transaction.
    """
    paths = view_files(views_dir)
    current: list[Path] = []

    def create() -> None:
        for path in paths:
            current[:] = [path]
            con.execute(path.read_text(encoding="utf-8"))
        if digest is not None:
            con.execute("DELETE FROM applied_views")
            con.execute("INSERT INTO applied_views VALUES (?, ?)", [digest, utc_now()])
        findings_inputs_changed(con)

    try:
        write_transaction(con, create, what="views")
    except duckdb.Error as exc:
        raise OctrackerError(f"{current[0]}: view failed to apply; the previous views are kept: {exc}") from None
    return [p.name for p in paths]


#: How a view file names what it creates.
CREATED_VIEW = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def view_names(views_dir: Path) -> set[str]:
    """The names of the views the view files create."""
    return {name.lower() for path in view_files(views_dir) for name in CREATED_VIEW.findall(path.read_text())}


def views_digest(con: duckdb.DuckDBPyConnection, views_dir: Path) -> str:
    """sha256 of what the views are made from: the view files (names and text), the migrations applied, DuckDB."""
    digest = hashlib.sha256(f"duckdb {duckdb.__version__}\n".encode())
    versions = sorted(r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall())
    digest.update(f"migrations {versions}\n".encode())
    for path in view_files(views_dir):
        digest.update(f"{path.name} {path.stat().st_size}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def apply_changed_views(con: duckdb.DuckDBPyConnection, views_dir: Path) -> bool:
    """Re-create the views unless those in the warehouse were made from the same files (`views_digest`), and
    are all there; True when they were re-created."""
    digest = views_digest(con, views_dir)
    recorded = con.execute("SELECT sha256 FROM applied_views").fetchall()
    if recorded == [(digest,)]:
        # A view dropped by hand since is made again (a file may create more than one view).
        held = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database()"
            ).fetchall()
        }
        if view_names(views_dir) <= held:
            return False
    apply_views(con, views_dir, digest=digest)
    return True


def sync_indicators(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Make the `indicators` table equal the catalog file (replaced whole, in one transaction; unchanged: no write)."""
    rows = [
        (i.id, i.name, i.unit, i.direction, i.frequency, i.description, i.min, i.max, i.group, i.aggregate_of)
        for i in catalog.indicators
    ]

    def replace() -> None:
        if Counter(con.execute("SELECT * FROM indicators").fetchall()) == Counter(rows):
            return
        findings_inputs_changed(con)
        con.execute("DELETE FROM indicators")
        insert_json_rows(con, "indicators", rows)

    write_transaction(con, replace, what="indicators")


#: The tables `insert_json_rows` writes.
JSON_ROW_TABLES = frozenset({"indicators", "alert_rules"})


def insert_json_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` (values in the order of the table's columns) into `table` (one of JSON_ROW_TABLES), the rows
    and the table's column types passed as two JSON parameters.

    A new warehouse writes the catalog and the alert rules: as a VALUES list of parameters (47 indicators, 470
    values) DuckDB took 0.1-0.2 s of CPU to plan it, and executemany as long for 17 rules; one JSON text takes
    5 ms. Reading a frame instead would load pyarrow's dataset module for a few dozen rows.
    """
    if table not in JSON_ROW_TABLES:
        raise ValueError(f"insert_json_rows writes {sorted(JSON_ROW_TABLES)}, not {table!r}")
    if not rows:
        return
    # The one table's columns: duckdb_columns() lists every column of every table and view first, which took 10-13 ms
    # of a new warehouse's first write of a catalog (binding its views), this 1 ms.
    types = dict(con.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", [table]).fetchall())
    payload = json.dumps([dict(zip(types, row, strict=True)) for row in rows])
    con.execute(
        f"INSERT INTO {table} SELECT unnest(json_transform(?, ?), recursive := true)", [payload, json.dumps([types])]
    )


def sync_alert_places(con: duckdb.DuckDBPyConnection, places: tuple[str, ...]) -> None:
    """Make the `alert_places` table equal the rules file's `places` (unchanged: no write)."""

    def replace() -> None:
        if sorted(r[0] for r in con.execute("SELECT place FROM alert_places").fetchall()) == sorted(places):
            return
        findings_inputs_changed(con)
        con.execute("DELETE FROM alert_places")
        if places:
            con.executemany("INSERT INTO alert_places VALUES (?)", [[p] for p in places])

    write_transaction(con, replace, what="alert places")


def prepare_warehouse(
    con: duckdb.DuckDBPyConnection, settings: Settings, catalog: Catalog, *, from_template: bool = False
) -> None:
    """Bring a writer connection up to date: migrations, then in one transaction catalog, alert rules, alert places
    and views (re-created when changed), with the alert findings stored again when any of them changed.

    A warehouse just copied `from_template` dates its migrations and views from now, when it was made."""
    apply_migrations(con, settings.migrations_dir)
    if settings.lake is None:
        # Before anything reads the history: the rows of a load in stages that a dead process left (a lake is
        # never loaded in stages).
        discard_staged(con)
    rules_file = settings.schemas_dir / "alert_rules.toml"
    rules, places = load_alert_rules(rules_file), load_alert_places(rules_file)

    def sync() -> None:
        if from_template:
            now = utc_now()
            con.execute("UPDATE schema_migrations SET applied_at = ?", [now])
            con.execute("UPDATE applied_views SET applied_at = ?", [now])
        sync_indicators(con, catalog)
        sync_alert_rules(con, rules)
        sync_alert_places(con, places)
        apply_changed_views(con, settings.views_dir)

    write_transaction(con, sync, what="catalog, alert rules and views")


def publish(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path | None:
    """Put a copy of the checkpointed warehouse under the published path atomically; readers keep their old copy.

    The copy is a new file taking the name by a rename, so a reader with the old one open keeps reading it. That
    file is usually made from the spare (see `refresh_spare`), the copy published before the current one, in which
    only the blocks that differ are written; a whole copy is made when there is no spare or a reader still has it
    open. A lake publishes nothing: readers attach it read-only and every commit is already a consistent snapshot.
    """
    if owes_work(con):  # e.g. findings owed by a write made outside write_transaction: stored before publishing
        write_transaction(con, lambda: None, what="alert findings")
    if settings.lake is not None:
        return None
    # A load in stages that failed has removed its rows, or could not: then they are removed here, never published.
    discard_staged(con)
    con.execute("CHECKPOINT")
    target = settings.published_path
    spare = publish_spare_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A copy left by a publisher that died half-way was never renamed, so no reader ever saw it; the one
    # writer (this process) removes it.
    for leftover in (*target.parent.glob(f".{target.name}.*.tmp"), *spare.parent.glob(f"{spare.name}.*.tmp")):
        leftover.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if spare.exists() and target.exists() and os.path.samefile(spare, target):
            spare.unlink()  # never written in place: it is what readers open
        fresh = spare if refresh_spare(settings.warehouse, spare) else tmp
        if fresh == tmp:
            shutil.copyfile(settings.warehouse, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        kept = keep_as_spare(target, spare)
        # os.replace swaps the name only: an analyst with the old copy open keeps reading it untouched.
        os.replace(fresh, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # never leave half a copy behind
        raise PublishFailed(
            f"{target}: the data is committed in {settings.warehouse}, but the copy analysts read could not be "
            f"written ({exc.strerror or exc}); they still read the previous copy. Free space in {target.parent}, "
            "then run `octracker refresh` again: nothing is loaded twice and the copy is published"
        ) from None
    if kept is not None:
        with contextlib.suppress(OSError):  # without a spare the next publish copies the whole file
            os.replace(kept, spare)
    return target


def keep_as_spare(target: Path, spare: Path) -> Path | None:
    """A second name for the copy readers have now, which becomes the spare once the new copy has taken its place;
    None when there is none yet or the file system has no hard links."""
    kept = spare.with_name(f"{spare.name}.{os.getpid()}.tmp")
    try:
        os.link(target, kept)
    except OSError:
        return None
    return kept


def _write_all(fd: int, block: bytes, offset: int) -> None:
    """Write the whole block at `offset` (a write may take fewer bytes than it is given)."""
    view = memoryview(block)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(errno.EIO, "the spare copy took no more bytes")
        view, offset = view[written:], offset + written


def publish_spare_path(published: Path) -> Path:
    """Where the copy published before the current one is kept (beside the warehouse, hidden from readers)."""
    return published.parent.parent / f".{published.name}.published-spare"


#: Bytes compared at once when a spare is brought up to date (DuckDB's blocks are 256 KiB).
SPARE_CHUNK = 256 * 1024


def refresh_spare(source: Path, spare: Path) -> bool:
    """Make `spare` a byte-for-byte copy of `source` by writing only the blocks that differ, then sync it; False
    (nothing done) when there is no spare or a reader still has it open, and a whole copy must be made instead.

    After a small change DuckDB's checkpoint rewrites a few MB of a warehouse of hundreds, so this reads both
    files from the page cache and writes and syncs those few MB only. No reader can open the spare meanwhile:
    it is only reached through the published name once it is whole, and the open-file-description write lock
    held while it is written conflicts with DuckDB's read lock, in this process too, so a reader that kept it
    open since it was published makes this fall back, and none can take it up while it is written. A spare left
    half-written by a crash is put right the same way, being compared byte for byte.
    """
    # Open-file-description locks are Linux's (macOS has none): elsewhere the copy is made whole.
    lock = getattr(fcntl, "F_OFD_SETLK", None)
    if lock is None or not spare.is_file():
        return False
    fd = os.open(spare, os.O_RDWR)
    try:
        try:
            fcntl.fcntl(fd, lock, struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
        except OSError:
            return False  # a reader has it open
        src = os.open(source, os.O_RDONLY)
        try:
            size = os.fstat(src).st_size
            # Two halves side by side: reading both files from the page cache is the cost (a warehouse of 220 MB:
            # 21-23 ms in one thread, 14-17 ms in two on a quiet machine), and pread and pwrite release the GIL.
            middle = size // 2 // SPARE_CHUNK * SPARE_CHUNK
            failed: list[BaseException] = []

            def second_half() -> None:
                try:
                    _copy_differing_blocks(src, fd, middle, size)
                except BaseException as exc:  # raised below, in the caller's thread
                    failed.append(exc)

            helper = threading.Thread(target=second_half, name="refresh-spare")
            helper.start()
            try:
                _copy_differing_blocks(src, fd, 0, middle)
            finally:
                helper.join()
            if failed:
                raise failed[0]
        finally:
            os.close(src)
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)  # and with it the lock
    return True


def _copy_differing_blocks(src: int, dst: int, start: int, stop: int) -> None:
    """Write to `dst` the blocks of `src` from `start` to `stop` that differ from those it holds."""
    for offset in range(start, stop, SPARE_CHUNK):
        block = os.pread(src, min(SPARE_CHUNK, stop - offset), offset)
        if len(block) != min(SPARE_CHUNK, stop - offset):  # a regular file reads whole but at its end
            raise OSError(errno.EIO, "the warehouse is shorter than when its copy began")
        if os.pread(dst, len(block), offset) != block:
            _write_all(dst, block, offset)


def sync_alert_rules(con: duckdb.DuckDBPyConnection, rules: list[AlertRule]) -> None:
    """Make the `alert_rules` table equal the rules file (replaced whole, in one transaction; unchanged: no write)."""
    rows = [astuple(r) for r in rules]

    def replace() -> None:
        if Counter(con.execute("SELECT * FROM alert_rules").fetchall()) == Counter(rows):
            return
        con.execute("DELETE FROM alert_rules")
        insert_json_rows(con, "alert_rules", rows)

    write_transaction(con, replace, what="alert rules")
