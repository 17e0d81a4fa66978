"""The place gazetteer (`schemas/places.toml`): place names in text to geo codes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from octracker.errors import SpecError
from octracker.tomlfiles import load_toml


@dataclass(frozen=True)
class PlaceMention:
    """One place named in a text: where, as which name, and its geo code and specificity."""

    start: int
    end: int
    name: str
    geo: str
    rank: int


@dataclass(frozen=True)
class Gazetteer:
    """Place names with their geo codes, searchable in text."""

    #: (name, geo, rank) triples.
    names: tuple[tuple[str, str, int], ...]
    path: Path | None = None
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)
    _by_name: dict[str, tuple[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Longest first, so "port of Antwerp" is taken whole rather than as "Antwerp".
        ordered = sorted(self.names, key=lambda n: -len(n[0]))
        alternatives = "|".join(_name_pattern(name) for name, _, _ in ordered)
        object.__setattr__(self, "_pattern", re.compile(rf"(?<![\w.])(?:{alternatives})(?!\w)"))
        object.__setattr__(self, "_by_name", {name.lower(): (geo, rank) for name, geo, rank in ordered})

    def find(self, text: str) -> list[PlaceMention]:
        """Every place named in `text`, left to right; the longest name wins where names overlap."""
        found = []
        for m in self._pattern.finditer(text):
            geo, rank = self._by_name[m.group().lower()]
            found.append(PlaceMention(m.start(), m.end(), m.group(), geo, rank))
        return found


def _name_pattern(name: str) -> str:
    escaped = re.escape(name)
    if name[0].islower():
        return f"[{name[0]}{name[0].upper()}]{re.escape(name[1:])}"
    return escaped


def load_places(path: Path, data: bytes | None = None) -> Gazetteer:
    """Read and check the gazetteer file (`data`: its bytes, when read already); a bad entry is refused with its
    position and field."""
    raw = load_toml(path, missing="place gazetteer not found; is --project pointing at the project folder?", data=data)
    kinds = raw.get("kinds", {})
    names: list[tuple[str, str, int]] = []
    seen: dict[str, str] = {}
    for n, entry in enumerate(raw.get("place", []), start=1):
        where = f"{path}: place #{n} ({entry.get('geo', 'no geo')})"
        missing = [k for k in ("geo", "kind", "names") if k not in entry]
        if missing:
            raise SpecError(f"{where}: missing {', '.join(missing)}")
        if entry["kind"] not in kinds:
            raise SpecError(f"{where}: kind {entry['kind']!r} is not in [kinds]; add it there with its rank")
        for name in entry["names"]:
            if not isinstance(name, str) or not name.strip():
                raise SpecError(f"{where}: names must be non-empty strings")
            if name.lower() in seen and seen[name.lower()] != entry["geo"]:
                raise SpecError(f"{where}: name {name!r} already belongs to {seen[name.lower()]}")
            seen[name.lower()] = entry["geo"]
            names.append((name, entry["geo"], int(kinds[entry["kind"]])))
    if not names:
        raise SpecError(f"{path}: no [[place]] entries")
    return Gazetteer(tuple(names), path)
