"""Read-only queries against the published warehouse copy (or a lake), locked down for analysts and tools."""

from __future__ import annotations

import contextlib
import math
import re
import resource
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import duckdb

from octracker.errors import InputRefused, NothingPublished, OctrackerError, UsageError
from octracker.store.lake import DuckConfig, LakeTarget, connect_lake, describe_attach_error, lake_data_directory
from octracker.store.rows import scalar
from octracker.store.spill import new_spill_folder, shared_spill_folder

#: Memory one query may use; a query that needs more fails with a message instead of taking the machine.
MEMORY_LIMIT = "2GB"
#: Address space a query may add to the process beyond MEMORY_LIMIT: DuckDB's parser, binder and planner
#: allocate outside its buffer manager (a 10,000-branch UNION ALL alone took 1.9 GB), so the process as a whole
#: is capped too and an allocation past the cap fails as "Out of Memory" instead of taking the machine.
PLANNER_HEADROOM_BYTES = 1 << 30
#: Longest query text taken. Planning happens before a query can be interrupted and grows faster than the text
#: (4,000 UNION ALL branches, 107 KB, plan in about 8 s), so the text is bounded to keep planning short.
MAX_QUERY_CHARS = 64 * 1024
#: Default time limit of one query, in seconds (environment variable OCTRACKER_SQL_TIMEOUT).
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "OCTRACKER_SQL_TIMEOUT"
#: Statement types that only read. Everything else (COPY, EXPORT, ATTACH, SET, CALL, PRAGMA, LOAD, INSERT, ...)
#: is refused before it runs: the database file itself is a path DuckDB lets a read-only connection write to
#: (COPY ... TO the published copy overwrote it), so file settings alone cannot keep the shell from writing.
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT})
_EXPLAIN = re.compile(r"\s*EXPLAIN(?:\s+ANALY[SZ]E)?\s+(?P<query>.*)", re.IGNORECASE | re.DOTALL)

#: No extension loading, bounded memory and spill: every reader's settings (see `reader_config`). Once connected, a
#: locked reader has no file access outside the warehouse and its settings frozen (see `open_locked_reader`).
LOCKED_CONFIG: DuckConfig = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "memory_limit": MEMORY_LIMIT,
    "max_temp_directory_size": "2GB",
    "threads": 2,
}


#: Held while a reader checks and locks the configuration of the database it may share with other readers.
_LOCKING = threading.Lock()


def reader_config(target: Path | LakeTarget) -> DuckConfig:
    """The DuckDB settings of every read-only connection to the warehouse, locked or not: LOCKED_CONFIG's memory
    bound, and a spill folder of its process's own (see `octracker.store.spill`). Every reader of a published copy in
    one process has the same folder: they share one DuckDB database, which takes a connection only with the settings
    it was opened with. A lake's reader, a DuckDB in memory of its own, spills beside the lake's run-time files."""
    if isinstance(target, LakeTarget):
        return {**LOCKED_CONFIG, **lake_spill_config(target)}
    return {**LOCKED_CONFIG, "temp_directory": str(shared_spill_folder(target))}


def open_locked_reader(path: Path | LakeTarget) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy that cannot reach files, the network or extensions."""
    if isinstance(path, LakeTarget):
        return open_locked_lake_reader(path)
    if not path.exists():
        raise NothingPublished(f"{path}: no published warehouse yet; run `octracker refresh` first")
    # The readers of this file in this process (the scheduler's metrics server, a job) share one database, opened
    # with one spill folder: DuckDB refuses a second connection with other settings.
    con = duckdb.connect(str(path), read_only=True, config=reader_config(path))
    # DuckDB draws a progress bar on stdout for long queries; it would corrupt CSV and JSON output. A pragma, not
    # SET: another reader of this file in this process shares its database, whose configuration that reader may have
    # locked already, and a locked one refuses every SET.
    con.execute("PRAGMA disable_progress_bar")
    with _LOCKING:
        if not scalar(con, "SELECT current_setting('lock_configuration')"):
            # Set here, not in the connection's settings: DuckDB applies those in an order of its own, and refuses a
            # spill folder once external access is off.
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
    return con


def open_locked_lake_reader(target: LakeTarget) -> duckdb.DuckDBPyConnection:
    """The lake attached read-only, then locked: only its own data files stay readable, nothing else attaches."""
    try:
        con = connect_lake(target, read_only=True, config=reader_config(target))
    except duckdb.Error as exc:
        # No catalog file, or a catalog database that answered and holds no lake: only a refresh creates one.
        no_file = target.catalog_path is not None and not target.catalog_path.exists()
        if no_file or (
            isinstance(exc, duckdb.InvalidInputException)
            and "creating a new DuckLake is explicitly disabled" in str(exc)
        ):
            raise NothingPublished(f"{target.describe()}: no lake there yet; run `octracker refresh` first") from None
        raise OctrackerError(describe_attach_error(target, exc)) from None
    con.execute("SET allowed_directories = ?", [[lake_data_directory(con)]])
    con.execute("SET enable_progress_bar = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def lake_spill_config(target: LakeTarget) -> DuckConfig:
    """The spill folder of a lake reader, a DuckDB in memory of its own (whose default is `.tmp` in the current
    folder): beside the lake's run-time files, as its writers'."""
    beside = target.spill_beside or target.catalog_path
    return {} if beside is None else {"temp_directory": str(new_spill_folder(beside))}


@contextlib.contextmanager
def locked_reader(path: Path | LakeTarget) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_locked_reader` as a context manager that always closes the connection."""
    con = open_locked_reader(path)
    try:
        yield con
    finally:
        con.close()


def describe_duckdb_error(exc: duckdb.Error) -> str:
    """DuckDB's message, with the next move when the cause is the lock-down rather than the query."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.OutOfMemoryException) or message.startswith("Out of Memory"):
        first_line = message.splitlines()[0]
        return (
            f"{first_line} (queries are limited to {MEMORY_LIMIT}; narrow the query with WHERE, fewer columns or LIMIT)"
        )
    return message


def check_one_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse an over-long text, an empty one, several statements, or a statement that is not a query."""
    if len(sql) > MAX_QUERY_CHARS:
        raise InputRefused(
            f"the query is {len(sql):,} characters long; octracker sql takes at most {MAX_QUERY_CHARS:,} "
            "(a query that long takes DuckDB too long to plan); shorten it, e.g. with a CTE or a join on VALUES"
        )
    statement = _one_statement(con, sql)
    if statement.type == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs what it explains: the explained statement must be a query too.
        explained = _EXPLAIN.fullmatch(sql)
        if explained is None:
            _refuse_statement("an EXPLAIN this shell cannot check")
        statement = _one_statement(con, explained["query"])
    if statement.type not in READ_STATEMENTS:
        _refuse_statement(f"a {statement.type.name} statement")


def _one_statement(con: duckdb.DuckDBPyConnection, sql: str):
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise InputRefused(describe_duckdb_error(exc)) from None
    if len(statements) != 1:
        found = "no statement" if not statements else f"{len(statements)} statements"
        raise InputRefused(f"give exactly one SQL statement, found {found}")
    return statements[0]


def _refuse_statement(what: str) -> NoReturn:
    raise InputRefused(
        f"octracker sql runs queries only (SELECT, FROM, WITH, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) and "
        f"this is {what}; it writes, attaches or changes settings, which the shell never does. Export results "
        "with --format csv or json and a shell redirect"
    )


def timeout_from_env(environ: Mapping[str, str]) -> float:
    """The query time limit in seconds from OCTRACKER_SQL_TIMEOUT (default DEFAULT_TIMEOUT_S)."""
    raw = environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"{TIMEOUT_ENV}={raw!r} is not a positive number of seconds; set it to e.g. 30")
    return seconds


@contextlib.contextmanager
def bounded_address_space(extra_bytes: int) -> Iterator[None]:
    """Cap the process's address space at its current size plus `extra_bytes`, restoring the cap after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm", "rb") as statm:  # bytes: no text codec to load for one number
        current = int(statm.read().split()[0]) * resource.getpagesize()
    cap = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield  # already bounded tighter by the caller's environment
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class QueryTimedOut(InputRefused):
    """A query ran past its time limit and was stopped."""


def run_query(
    path: Path | LakeTarget,
    sql: str,
    params: list[Any] | None = None,
    *,
    timeout_s: float | None = None,
    needs: Sequence[str] = (),
) -> tuple[list[str], list[tuple]]:
    """Run one query and return (columns, rows); DuckDB's complaint becomes a refused input.

    With `timeout_s`, a query still running after that many seconds is interrupted and refused. `needs` names
    views the query reads that a warehouse refreshed by an older octracker may not have: checked on the same
    connection (one open of the file, not two), each missing one an error that says to refresh.
    """
    with locked_reader(path) as con:
        if needs:
            missing = [name for name in needs if name not in existing_relations(con)]
            if missing:
                raise OctrackerError(
                    f"{path}: this warehouse has no {missing[0]} view yet; run `octracker refresh` first"
                )
        check_one_statement(con, sql)
        return query_on(con, sql, params, timeout_s=timeout_s)


def query_on(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None, *, timeout_s: float | None = None
) -> tuple[list[str], list[tuple]]:
    """Run one query on a reader already open (see `run_query`), under the same limits; (columns, rows)."""
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        con.interrupt()

    timer = threading.Timer(timeout_s, stop) if timeout_s is not None else None
    try:
        with bounded_address_space(_bytes(MEMORY_LIMIT) + PLANNER_HEADROOM_BYTES):
            if timer is not None:
                timer.daemon = True
                timer.start()
            cursor = con.execute(sql, params or [])
            if cursor.description is None:
                return [], []
            return [d[0] for d in cursor.description], cursor.fetchall()
    except MemoryError:
        raise InputRefused(
            f"the result does not fit in the memory a query may use ({MEMORY_LIMIT} and planning room); "
            "narrow the query with WHERE, fewer columns or LIMIT"
        ) from None
    except duckdb.Error as exc:
        if timed_out.is_set():
            raise QueryTimedOut(describe_timeout(timeout_s)) from None
        raise InputRefused(describe_duckdb_error(exc)) from None
    finally:
        if timer is not None:
            timer.cancel()


def describe_timeout(timeout_s: float | None) -> str:
    return (
        f"the query was stopped after its time limit of {timeout_s:g} s; narrow it with WHERE, fewer columns or "
        f"LIMIT, or allow more time with {TIMEOUT_ENV}=SECONDS"
    )


def _bytes(size: str) -> int:
    """Bytes in a DuckDB size such as "2GB" (powers of 1024, as DuckDB reads them)."""
    match = re.fullmatch(r"([0-9]+)\s*([KMGT]?)B", size.strip().upper())
    if match is None:
        raise ValueError(f"unreadable memory size {size!r}")
    return int(match[1]) * 1024 ** " KMGT".index(match[2] or " ")


def existing_relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables and views in the connected warehouse."""
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal UNION ALL SELECT table_name FROM duckdb_tables()"
    ).fetchall()
    return {r[0] for r in rows}


def relation_exists(path: Path | LakeTarget, name: str) -> bool:
    """Whether a table or view of this name exists in the published copy."""
    with locked_reader(path) as con:
        return name in existing_relations(con)


def followed_places_condition(relations: set[str], column: str = "geo") -> str:
    """SQL: the row's `column` is a place alerts follow (`alert_places`, from `places` in
    schemas/alert_rules.toml; BE covers BE-BRU and BEANR; none listed: every place), as trend alerts judge it.
    Whole-world tables (the index workbook, UNODC) are loaded for ranks and comparison; what an operator or an
    analyst reads first keeps to these places."""
    if "alert_places" not in relations:
        return "TRUE"
    return (
        "(NOT EXISTS (SELECT 1 FROM alert_places) "
        f"OR EXISTS (SELECT 1 FROM alert_places AS ap WHERE starts_with({column}, ap.place)))"
    )
