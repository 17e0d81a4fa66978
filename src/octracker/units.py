"""Units: the catalog's unit names and their aliases, and conversion between units by pint.

The catalog names each indicator's unit (`tonnes`, `count`, `per 100,000 people`) and lists, per unit, the
pint expression it means and the other spellings sources use for it (`incidents` for a count, Eurostat's
`P_HTHAB` for a rate per 100,000 inhabitants). Any other spelling is given to pint as it is, so `kg`
converts to `tonnes` with no table entry; a unit of another dimension is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pint

#: Quantities the catalog's units are made of that pint does not define.
DEFINITIONS = (
    "person = [population] = people = inhabitant = inhabitants = persons",
    "hundred_thousand_people = 100000 * person",
    # An index's score is a point on its own scale: convertible to nothing else.
    "index_point = [index_score] = score_point",
)


class UnitMismatch(ValueError):
    """A value's unit cannot be converted to the unit the catalog measures its indicator in."""


@functools.cache
def unit_registry() -> pint.UnitRegistry:
    registry: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    for definition in DEFINITIONS:
        registry.define(definition)
    return registry


def spelling_key(unit: str) -> str:
    """A unit's spelling compared without case, spaces or punctuation other than `%`, `/` and `_`."""
    return re.sub(r"[^a-z0-9%/_]+", "", unit.strip().lower())


@dataclass(frozen=True)
class CatalogUnit:
    """A unit the catalog names: its pint expression and the other spellings that mean it."""

    name: str
    pint: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitBook:
    """The catalog's units; `factor` converts any spelling of one unit to another."""

    units: tuple[CatalogUnit, ...] = ()
    _expressions: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        registry = unit_registry()
        for unit in self.units:
            try:
                registry.parse_units(unit.pint)
            except (pint.errors.PintError, ValueError, AttributeError) as exc:
                raise ValueError(f"unit {unit.name!r}: pint cannot read {unit.pint!r} ({exc})") from None
            for spelling in (unit.name, *unit.aliases):
                self._expressions.setdefault(spelling_key(spelling), unit.pint)

    def expression(self, unit: str) -> str:
        """The pint expression a spelling means: a catalog unit or alias, else the spelling itself."""
        return self._expressions.get(spelling_key(unit), unit.strip())

    def factor(self, from_unit: str, to_unit: str) -> float:
        """What a value in `from_unit` is multiplied by to be in `to_unit`; UnitMismatch when it cannot be."""
        if spelling_key(from_unit) == spelling_key(to_unit):
            return 1.0
        registry = unit_registry()
        try:
            source = registry.Quantity(1.0, registry.parse_units(self.expression(from_unit)))
            return float(source.to(registry.parse_units(self.expression(to_unit))).magnitude)
        except pint.errors.DimensionalityError:
            raise UnitMismatch(
                f"{from_unit!r} cannot be converted to {to_unit!r}: they measure different things"
            ) from None
        except (pint.errors.PintError, ValueError, AttributeError, TypeError):
            raise UnitMismatch(
                f"unit {from_unit!r} is not a unit octracker knows; list it among the aliases "
                f"of {to_unit!r} in the catalog's [[unit]] table"
            ) from None


def unit_book(entries: Iterable[CatalogUnit]) -> UnitBook:
    return UnitBook(tuple(entries))
