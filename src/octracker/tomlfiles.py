"""Reading the project's TOML files (catalog, gazetteer, alert rules, specs, sidecars): one way, one error style.

A file that cannot be read is refused with its path, the line and column at fault, what is wrong there, and what
to do; nothing is read from it.

A large file is parsed once per content: what it parsed to is kept in the user's cache, named by the sha256 of its
bytes, and read back as JSON while the file's bytes stay the same (see `load_toml`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from octracker.errors import SpecError
from octracker.user_cache import user_cache_folder

FIX = "fix the file and run again"
#: tomllib ends its messages with where it stopped: "... (at line 3, column 7)" or "(at end of document)".
_WHERE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def load_toml(path: Path, *, missing: str | None = None, fix: str = FIX, data: bytes | None = None) -> dict[str, Any]:
    """The file's top-level table. `missing`: what to say when the file does not exist (else the OS error). `data`:
    the file's bytes, when the caller has read them (and keeps what they give by them): not read again."""
    try:
        data = path.read_bytes() if data is None else data
    except FileNotFoundError:
        if missing is None:
            raise
        raise SpecError(f"{path}: {missing}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(f"{path}: line {line}: not UTF-8 text (byte {exc.start}; save it as UTF-8); {fix}") from None
    kept = _kept_parse(data)
    if kept is not None:
        return kept
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: {describe_toml_error(exc)}; {fix}") from None
    _keep_parse(data, parsed)
    return parsed


#: From this size a file's parse is kept (see `_kept_parse`): tomllib reads about 2 MB a second, so the catalog of
#: 650 indicators (140 kB) took 0.07 s of every writer and reader that read it, its JSON 0.01 s; a smaller file is
#: parsed in less time than a kept parse takes to find.
KEPT_FROM_BYTES = 16 * 1024
#: Parses kept at most, the most recently used (a file edited often leaves one per version).
PARSES_KEPT = 32


def _parse_path(data: bytes) -> Path | None:
    """Where the parse of a file of these bytes is kept: a folder of the user's cache, the file named by the sha256
    of the bytes and of the Python version (tomllib's reading of a text could change with it)."""
    cache = user_cache_folder()
    if cache is None or len(data) < KEPT_FROM_BYTES:
        return None
    digest = hashlib.sha256(f"tomllib {sys.version}\n".encode())
    digest.update(data)
    return cache / "toml-parses" / f"{digest.hexdigest()}.json"


def _kept_parse(data: bytes) -> dict[str, Any] | None:
    """What a file of these bytes parsed to before, if kept; None when it is not (or cannot be read back)."""
    kept = _parse_path(data)
    if kept is None:
        return None
    try:
        parsed = json.loads(kept.read_bytes())
    except (OSError, ValueError):
        return None  # none kept, or damaged: parsed again and kept anew
    if not isinstance(parsed, dict):
        return None
    with contextlib.suppress(OSError):
        os.utime(kept)  # used: kept the longer
    return parsed


def _keep_parse(data: bytes, parsed: dict[str, Any]) -> None:
    """Keep what a file of these bytes parsed to, when JSON gives it back as it is (no dates or times, which TOML
    has and JSON has not); a parse that cannot be kept is done without."""
    kept = _parse_path(data)
    if kept is None:
        return
    try:
        text = json.dumps(parsed, ensure_ascii=False)
    except (TypeError, ValueError):
        return  # a date or time: parsed each time
    if json.loads(text) != parsed:
        return  # e.g. a NaN, which is not equal to itself: parsed each time
    tmp = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, kept)  # whole or not at all: another process may be reading it
        held = sorted(kept.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in held[PARSES_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def describe_toml_error(exc: tomllib.TOMLDecodeError) -> str:
    """'not valid TOML at line N, column M (what is wrong)' from tomllib's message."""
    message = str(exc)
    found = _WHERE.search(message)
    if found is None:
        return f"not valid TOML ({message})"
    reason = message[: found.start()]
    if found.group(1) is None:
        return f"not valid TOML at the end of the file ({reason})"
    return f"not valid TOML at line {found.group(1)}, column {found.group(2)} ({reason})"
