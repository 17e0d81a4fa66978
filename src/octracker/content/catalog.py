"""The indicator catalog (`schemas/indicators.toml`): ids, names, units, ranges, direction, aliases, the
publishers' native series each curated indicator is read from, and the units with their spellings."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from octracker.errors import SpecError
from octracker.tomlfiles import load_toml
from octracker.units import CatalogUnit, UnitBook

DIRECTIONS = ("up_is_bad", "down_is_bad", "neutral")
FREQUENCIES = ("annual", "biennial", "irregular", "monthly", "quarterly")


@dataclass(frozen=True)
class Indicator:
    """One indicator as the catalog defines it."""

    id: str
    name: str
    unit: str
    direction: str
    frequency: str
    min: float
    max: float
    description: str = ""
    group: str | None = None
    aggregate_of: str | None = None
    computed: bool = False
    aliases: tuple[str, ...] = ()
    #: Publishers' native series (`estat.crim_off_cat.a.iccs0601.p_hthab`) whose values are this indicator's,
    #: converted to its unit; both ids answer in `series`.
    native: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """All indicators, with look-ups by id and by any spelling of the name."""

    indicators: tuple[Indicator, ...]
    path: Path | None = None
    units: UnitBook = field(default_factory=UnitBook)
    _by_id: dict[str, Indicator] = field(default_factory=dict, compare=False, repr=False)
    _by_name: dict[str, Indicator] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for ind in self.indicators:
            self._by_id[ind.id] = ind
            for spelling in (ind.name, ind.id, ind.id.split(".")[-1], *ind.aliases):
                self._by_name.setdefault(name_key(spelling), ind)

    def __contains__(self, indicator_id: str) -> bool:
        return indicator_id in self._by_id

    def __getitem__(self, indicator_id: str) -> Indicator:
        return self._by_id[indicator_id]

    def by_name(self, name: str, *, prefix: str | None = None) -> Indicator | None:
        """The indicator a name or alias refers to, ignoring case and punctuation."""
        found = self._by_name.get(name_key(name))
        if found is None and prefix:
            found = self._by_id.get(f"{prefix}{name_key(name)}")
        if found is not None and prefix and not found.id.startswith(prefix):
            return None
        return found

    def components(self, aggregate: Indicator) -> list[Indicator]:
        """The indicators an aggregate is the mean of, in catalog order."""
        return [i for i in self.indicators if aggregate.aggregate_of and i.group == aggregate.aggregate_of]

    def with_prefix(self, prefix: str) -> list[Indicator]:
        return [i for i in self.indicators if i.id.startswith(prefix)]

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """Catalog ids a mistyped id or name probably means ('oci.cocain_trade' -> 'oci.cocaine_trade')."""
        found = self.by_name(name) or self._by_id.get(f"oci.{name_key(name)}")
        if found is not None:
            return [found.id]
        spellings: dict[str, str] = {}
        for i in self.indicators:
            for spelling in (i.id, i.id.split(".", 1)[-1], name_key(i.name), *map(name_key, i.aliases)):
                spellings.setdefault(spelling, i.id)
        key = name.strip().lower() if name.strip().lower() in spellings else name_key(name)
        close = difflib.get_close_matches(key, list(spellings), n=limit * 3, cutoff=0.75)
        close += difflib.get_close_matches(name_key(name), list(spellings), n=limit * 3, cutoff=0.75)
        if not close and len(name_key(name)) >= 4:
            # A part of an id ('cocaine'): the ids that contain it.
            close = [c for c in spellings if name_key(name) in c]
        return list(dict.fromkeys(spellings[c] for c in close))[:limit]

    def unknown(self, name: str) -> str:
        """'unknown indicator …' with the ids it probably means, or where the ids are listed."""
        close = self.suggest(name)
        if close:
            return f"unknown indicator {name!r}; did you mean {' or '.join(repr(c) for c in close)}?"
        return f"unknown indicator {name!r}; the catalog ({self.path or 'schemas/indicators.toml'}) lists every id"


def name_key(name: str) -> str:
    """Lower-case snake_case with punctuation dropped: 'Criminality avg.' -> 'criminality_avg'."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def load_catalog(path: Path) -> Catalog:
    """Read and check the catalog file; a bad entry is refused with its position and field."""
    raw = load_toml(path, missing="indicator catalog not found; is --project pointing at the project folder?")
    indicators = []
    seen: set[str] = set()
    for n, entry in enumerate(raw.get("indicator", []), start=1):
        where = f"{path}: indicator #{n} ({entry.get('id', 'no id')})"
        missing = [k for k in ("id", "name", "unit", "direction", "frequency", "min", "max") if k not in entry]
        if missing:
            raise SpecError(f"{where}: missing {', '.join(missing)}")
        if entry["direction"] not in DIRECTIONS:
            raise SpecError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}")
        if entry["frequency"] not in FREQUENCIES:
            raise SpecError(f"{where}: frequency must be one of {', '.join(FREQUENCIES)}")
        if entry["id"] in seen:
            raise SpecError(f"{where}: id defined twice")
        seen.add(entry["id"])
        known = set(Indicator.__dataclass_fields__)
        unknown = set(entry) - known
        if unknown:
            raise SpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        entry = dict(entry)
        entry["aliases"] = tuple(entry.get("aliases", ()))
        entry["native"] = tuple(str(n).lower() for n in entry.get("native", ()))
        indicators.append(Indicator(**entry))
    if not indicators:
        raise SpecError(f"{path}: no [[indicator]] entries")
    mapped: dict[str, str] = {}
    for indicator in indicators:
        for native in indicator.native:
            if native in mapped or native in seen:
                raise SpecError(
                    f"{path}: native series {native!r} of {indicator.id} is also "
                    f"{mapped.get(native, 'a catalog id')}; a native series maps to one indicator"
                )
            mapped[native] = indicator.id
    return Catalog(tuple(indicators), path, units=_read_units(raw.get("unit", []), path))


def _read_units(entries: list[dict], path: Path) -> UnitBook:
    """The catalog's `[[unit]]` tables: name, pint expression, aliases."""
    units = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: unit #{n} ({entry.get('name', 'no name')})"
        unknown = set(entry) - {"name", "pint", "aliases"}
        if unknown or "name" not in entry:
            raise SpecError(
                f"{where}: a [[unit]] has name, pint and aliases only"
                + (f"; unknown {', '.join(sorted(unknown))}" if unknown else "")
            )
        units.append(CatalogUnit(entry["name"], entry.get("pint", entry["name"]), tuple(entry.get("aliases", ()))))
    # The pint expressions are checked when a conversion first needs pint (see `octracker.units`).
    return UnitBook(tuple(units), origin=str(path))
