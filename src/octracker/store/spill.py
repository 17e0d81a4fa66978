"""Spill folders: where a process's DuckDB writes what exceeds its memory bound, one folder per process, and the
removal of those that processes since gone left behind.

DuckDB's default folder is shared: `NAME.tmp` beside a database file (`.tmp` in the current folder for a DuckDB
in memory, such as a lake's connection). A DuckDB that closes deletes the spill files of any other DuckDB sharing
its folder, so two processes reading the published copy at once, or two writers of a lake, each spill to a folder
of their own, `NAME.HOST.PID-N.tmp` beside the file `NAME` (HOST is this machine's name, N numbers the folders of one
process). DuckDB removes the folder when the database closes; a killed process leaves it, and the next process of the
same machine to open the warehouse removes it. A PID means nothing on another machine: a folder another host named is
never removed here, nor one of the older name `NAME.PID-N.tmp`, which says no host.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import socket
import threading
from pathlib import Path

log = logging.getLogger("octracker.store.spill")

SPILL_SUFFIX = ".tmp"
#: What DuckDB names its spill files; a folder holding anything else is not removed.
DUCKDB_SPILL_FILE = "duckdb_temp_"

_NUMBERS = itertools.count(1)
#: The folder each process shares among the connections to one database file (see `shared_spill_folder`).
_SHARED: dict[tuple[int, Path], Path] = {}
#: The files whose folders this process has cleared of dead processes' spill folders.
_SWEPT: set[tuple[int, Path]] = set()
_GUARD = threading.Lock()
_SWEEPING = threading.Lock()


#: Longest host name kept in a folder's name (a file name takes 255 bytes; a host name up to 253).
HOST_CHARS = 63


def safe_host_name(host: str) -> str:
    """`host` as a part of a file name: letters, digits and hyphens (anything else, a dot too, becomes `_`),
    lower-cased, at most HOST_CHARS long; `host` when it is empty."""
    safe = re.sub(r"[^a-z0-9-]", "_", host.lower())[:HOST_CHARS]
    return safe or "host"


@functools.cache
def this_host() -> str:
    """This machine's name (`socket.gethostname()`) as a part of a file name (see `safe_host_name`)."""
    return safe_host_name(socket.gethostname())


def spill_folder_name(name: str, host: str, pid: int, number: int) -> str:
    return f"{name}.{host}.{pid}-{number}{SPILL_SUFFIX}"


def new_spill_folder(beside: Path) -> Path:
    """A spill folder of this connection's own beside the file `beside`: `NAME.HOST.PID-N.tmp` (not created: DuckDB
    makes it when it first spills). Spill folders of this machine's processes gone are removed from there first."""
    remove_dead_spill_folders(beside)
    return beside.with_name(spill_folder_name(beside.name, this_host(), os.getpid(), next(_NUMBERS)))


def shared_spill_folder(beside: Path) -> Path:
    """The spill folder of this process's connections to the database file `beside`, one for all of them: they
    share one DuckDB database, which takes a connection only with the settings it was opened with."""
    key = (os.getpid(), beside)
    with _GUARD:
        folder = _SHARED.get(key)
    if folder is None:
        folder = new_spill_folder(beside)
        with _GUARD:
            folder = _SHARED.setdefault(key, folder)
    return folder


def remove_dead_spill_folders(beside: Path) -> list[Path]:
    """Remove the spill folders beside the file `beside` whose process no longer runs (once per file and process,
    before it has a folder there); the folders removed.

    Only a folder named exactly `NAME.HOST.PID-N.tmp` with this machine's HOST, whose PID runs no process here (or
    is this process's: a process gone had it before, and this one has made none there yet), and that holds nothing
    but DuckDB's spill files; anything else there is left alone, another machine's folders too (its PIDs are not
    this one's).
    """
    me = os.getpid()
    # Held while the folder is swept: another thread of this process takes its folder there only after.
    with _SWEEPING:
        if (me, beside) in _SWEPT:
            return []
        _SWEPT.add((me, beside))
        pattern = re.compile(
            re.escape(f"{beside.name}.{this_host()}.") + r"([1-9][0-9]*)-[1-9][0-9]*" + re.escape(SPILL_SUFFIX)
        )
        removed = []
        try:
            entries = list(os.scandir(beside.parent))
        except OSError:
            return []  # no folder yet: nothing left in it
        for entry in entries:
            found = pattern.fullmatch(entry.name)
            if found is None or not entry.is_dir(follow_symlinks=False):
                continue
            pid = int(found[1])
            if pid != me and process_runs(pid):
                continue
            if remove_spill_folder(Path(entry.path)):
                removed.append(Path(entry.path))
        return removed


def process_runs(pid: int) -> bool:
    """Whether a process of this PID runs on this machine (another user's too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a PID this check can tell: kept
    return True


def remove_spill_folder(folder: Path) -> bool:
    """Remove a dead process's spill folder and DuckDB's files in it; False (nothing removed) when it holds
    anything else."""
    try:
        names = os.listdir(folder)
        if any(not name.startswith(DUCKDB_SPILL_FILE) or not (folder / name).is_file() for name in names):
            log.info("%s: left in place: it holds files that are not DuckDB's spill files", folder)
            return False
        for name in names:
            (folder / name).unlink(missing_ok=True)
        folder.rmdir()
    except OSError as exc:
        log.info("%s: spill folder of a process gone, not removed: %s", folder, exc)
        return False
    log.info("%s: removed the spill folder of a process gone", folder)
    return True
