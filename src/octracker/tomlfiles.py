"""Reading the project's TOML files (catalog, gazetteer, alert rules, specs, sidecars): one way, one error style.

A file that cannot be read is refused with its path, the line and column at fault, what is wrong there, and what
to do; nothing is read from it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from octracker.errors import SpecError

FIX = "fix the file and run again"
#: tomllib ends its messages with where it stopped: "... (at line 3, column 7)" or "(at end of document)".
_WHERE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def load_toml(path: Path, *, missing: str | None = None, fix: str = FIX) -> dict[str, Any]:
    """The file's top-level table. `missing`: what to say when the file does not exist (else the OS error)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if missing is None:
            raise
        raise SpecError(f"{path}: {missing}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(f"{path}: line {line}: not UTF-8 text (byte {exc.start}; save it as UTF-8); {fix}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: {describe_toml_error(exc)}; {fix}") from None


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
