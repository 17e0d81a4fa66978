"""Several writer processes on one lake: per-pipeline leases, a commit lock, and commits retried on conflict.

On the embedded DuckDB file (and a lake whose catalog is a local DuckDB file) the file lock already makes
one process the only writer, so leases are always granted and commits never conflict: everything here
then reduces to BEGIN … COMMIT. On a lake with its catalog in PostgreSQL, each writer process keeps one
PostgreSQL session (its coordinator) holding advisory locks:

- a lease per pipeline, held for the whole run: a second process refreshing the same pipeline waits up to
  the lock timeout, then refuses that pipeline clearly. An advisory lock belongs to its session, so it is
  released the moment its process dies: no expiry to tune, no stale lock row to clean up.
- a commit lock, held from BEGIN to COMMIT of each write: DuckLake checks conflicts optimistically at
  commit (an insert into a table another transaction deleted from is refused), so without it a long load
  could be refused again and again by short commits of other pipelines. Extraction and validation, the
  slow part, still run in parallel; readers never wait.

A commit DuckLake still refuses (a writer that does not take the lock, e.g. maintenance) is retried a
bounded number of times with jittered exponential backoff, redoing the whole transaction on a fresh snapshot.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import duckdb

from octracker.errors import OctrackerError, WarehouseBusy
from octracker.store.lake import LAKE_EXTRA, DuckConfig, LakeTarget, connect_lake, describe_attach_error, redact

log = logging.getLogger("octracker.store.writers")

T = TypeVar("T")

#: Attempts at one write transaction before giving up (the first try included).
MAX_COMMIT_ATTEMPTS = 8
FIRST_RETRY_DELAY_S = 0.05
MAX_RETRY_DELAY_S = 2.0

#: Coordinators of the open lake writer connections, by connection; absent: a single-writer warehouse.
_COORDINATORS: dict[int, Coordinator] = {}
#: Connections inside write_transaction (a nested call joins the open transaction).
_IN_TRANSACTION: set[int] = set()
#: Work owed before the open transaction of a connection commits, by connection and name (see `before_commit`).
_BEFORE_COMMIT: dict[int, dict[str, Callable[[], object]]] = {}


class Coordinator:
    """One PostgreSQL session per writer process; its advisory locks die with it."""

    def __init__(self, target: LakeTarget, lock_timeout_s: float) -> None:
        try:
            import psycopg
        except ImportError:
            raise OctrackerError(f"a DuckLake warehouse in PostgreSQL needs psycopg; run {LAKE_EXTRA}") from None
        self.owner = f"octracker {socket.gethostname()} pid {os.getpid()}"
        self.lock_timeout_s = lock_timeout_s
        self.namespace = target.metadata_schema or "default"
        extra: dict[str, Any] = {"password": target.password} if target.password is not None else {}
        try:
            # Keepalives let the server notice a vanished host and drop its locks within about a minute.
            self.session = psycopg.connect(
                target.catalog,
                autocommit=True,
                application_name=self.owner[:63],
                connect_timeout=10,
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
                **extra,
            )
        except psycopg.Error as exc:
            raise OctrackerError(f"{target.describe()}: cannot open the lake: {redact(str(exc).strip())}") from None

    def key(self, name: str) -> int:
        """A signed 64-bit advisory-lock key for one name in this lake (lakes may share a database)."""
        digest = hashlib.blake2b(f"octracker/{self.namespace}/{name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def try_lock(self, name: str) -> bool:
        row = self.session.execute("SELECT pg_try_advisory_lock(%s)", [self.key(name)]).fetchone()
        return row is not None and bool(row[0])

    def lock(self, name: str, timeout_s: float) -> bool:
        """Wait for the lock (in the server's queue, so first come first served); False after the timeout."""
        import psycopg

        try:
            # A session-level advisory lock outlives this transaction; the timeout applies to this wait only.
            with self.session.transaction():
                self.session.execute(f"SET LOCAL lock_timeout = {max(1, int(timeout_s * 1000))}")
                self.session.execute("SELECT pg_advisory_lock(%s)", [self.key(name)])
        except psycopg.errors.LockNotAvailable:
            return False
        return True

    def unlock(self, name: str) -> None:
        self.session.execute("SELECT pg_advisory_unlock(%s)", [self.key(name)])

    def holder(self, name: str) -> str:
        """Who holds a lock, as its PostgreSQL session names itself."""
        key = self.key(name) & 0xFFFFFFFFFFFFFFFF
        row = self.session.execute(
            "SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s AND l.objid::bigint = %s "
            "AND l.objsubid = 1",
            [key >> 32, key & 0xFFFFFFFF],
        ).fetchone()
        if row is None:
            return "another process"
        return row[0] or f"a session from {row[1]}"

    def close(self) -> None:
        self.session.close()


@contextlib.contextmanager
def open_shared_lake_writer(
    target: LakeTarget, lock_timeout_s: float, *, config: DuckConfig | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer connection to a lake in PostgreSQL that other processes write at the same time, with DuckDB's
    settings `config` (see `connect_lake`)."""
    coordinator = Coordinator(target, lock_timeout_s)
    try:
        # Attaching creates the lake when it does not exist yet: two processes creating it at once collide.
        if not coordinator.lock("attach", lock_timeout_s):
            raise WarehouseBusy(
                f"{target.describe()}: {coordinator.holder('attach')} has been opening the lake "
                f"for over {lock_timeout_s:.0f} s; try again later"
            )
        try:
            con = connect_lake(target, read_only=False, config=config)
        except duckdb.Error as exc:
            raise OctrackerError(describe_attach_error(target, exc)) from None
        finally:
            coordinator.unlock("attach")
        _COORDINATORS[id(con)] = coordinator
        try:
            yield con
        finally:
            _COORDINATORS.pop(id(con), None)
            forget_owed_work(con)
            con.close()
    finally:
        coordinator.close()


@contextlib.contextmanager
def pipeline_lease(con: duckdb.DuckDBPyConnection, pipeline: str, timeout_s: float) -> Iterator[None]:
    """Hold the pipeline for this process, waiting up to `timeout_s` for another process to finish it."""
    coordinator = _COORDINATORS.get(id(con))
    if coordinator is None:
        yield
        return
    name = f"pipeline/{pipeline}"
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while not coordinator.try_lock(name):
        if time.monotonic() >= deadline:
            raise WarehouseBusy(
                f"pipeline {pipeline}: {coordinator.holder(name)} is refreshing it (waited {timeout_s:.0f} s); "
                "it was not run this time: try again when that refresh has finished"
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    try:
        yield
    finally:
        coordinator.unlock(name)


@contextlib.contextmanager
def try_pipeline_lease(con: duckdb.DuckDBPyConnection, pipeline: str) -> Iterator[bool]:
    """Hold the pipeline if no live process does (True), without waiting; always True for a single writer."""
    coordinator = _COORDINATORS.get(id(con))
    if coordinator is None:
        yield True
        return
    name = f"pipeline/{pipeline}"
    held = coordinator.try_lock(name)
    try:
        yield held
    finally:
        if held:
            coordinator.unlock(name)


@contextlib.contextmanager
def commit_lock(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    coordinator = _COORDINATORS.get(id(con))
    if coordinator is None:
        yield
        return
    if not coordinator.lock("commit", coordinator.lock_timeout_s):
        raise WarehouseBusy(
            f"{coordinator.holder('commit')} has been committing to the lake for over "
            f"{coordinator.lock_timeout_s:.0f} s; nothing was written: try again later"
        )
    try:
        yield
    finally:
        coordinator.unlock("commit")


def is_conflict(exc: BaseException) -> bool:
    """DuckLake refused a commit because another transaction changed what this one touched."""
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    # A refused COMMIT has already ended the transaction; there is nothing left to roll back then.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def before_commit(con: duckdb.DuckDBPyConnection, name: str, work: Callable[[], object]) -> None:
    """Have `work` run once at the end of the write transaction open on `con`, after everything else it writes and
    before it commits (a second call with the same name in that transaction changes nothing).

    For what is computed from the data written: it commits with that data, or not at all. Outside a
    write_transaction, `work` is owed until `settle_owed_work` runs it (a writer publishes nothing before).
    """
    _BEFORE_COMMIT.setdefault(id(con), {}).setdefault(name, work)


def owes_work(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether work is owed on `con` (see `before_commit`)."""
    return bool(_BEFORE_COMMIT.get(id(con)))


def settle_owed_work(con: duckdb.DuckDBPyConnection) -> None:
    """Run the work owed on `con` (see `before_commit`), in the caller's transaction, until none is left."""
    while owed := _BEFORE_COMMIT.pop(id(con), None):
        for work in owed.values():
            work()


def forget_owed_work(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the work owed on `con`: its transaction rolled back, or the connection closes."""
    _BEFORE_COMMIT.pop(id(con), None)


def in_write_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con` is inside a write_transaction (a write there joins it, and cannot commit on its own)."""
    return id(con) in _IN_TRANSACTION


def write_transaction(con: duckdb.DuckDBPyConnection, work: Callable[[], T], *, what: str) -> T:
    """Run `work` in one transaction, all or nothing; redo it on a fresh snapshot when the lake refuses the commit.

    Called inside another write_transaction on the same connection, `work` joins the open transaction.
    (DuckDB cannot say whether a bare BEGIN is open: code that writes inside one must not call this.)
    """
    if id(con) in _IN_TRANSACTION:
        return work()
    delay = FIRST_RETRY_DELAY_S
    for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
        _IN_TRANSACTION.add(id(con))
        try:
            with commit_lock(con):
                con.execute("BEGIN TRANSACTION")
                try:
                    result = work()
                    settle_owed_work(con)
                    con.execute("COMMIT")
                    return result
                except BaseException:
                    forget_owed_work(con)
                    _rollback_quietly(con)
                    raise
        except duckdb.TransactionException as exc:
            if not is_conflict(exc):
                raise
            if attempt == MAX_COMMIT_ATTEMPTS:
                raise WarehouseBusy(
                    f"{what}: the lake refused the commit {attempt} times because other writers changed the same "
                    "tables meanwhile; nothing of it was committed: try again"
                ) from None
            log.info("%s: commit conflict (attempt %d of %d), retrying: %s", what, attempt, MAX_COMMIT_ATTEMPTS, exc)
        finally:
            _IN_TRANSACTION.discard(id(con))
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, MAX_RETRY_DELAY_S)
    raise AssertionError("unreachable")
