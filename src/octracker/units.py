"""Units: the catalog's unit names and their aliases, and conversion between units by pint.

The catalog names each indicator's unit (`tonnes`, `count`, `per 100,000 people`) and lists, per unit, the
pint expression it means and the other spellings sources use for it (`incidents` for a count, Eurostat's
`P_HTHAB` for a rate per 100,000 inhabitants). Any other spelling is given to pint as it is, so `kg`
converts to `tonnes` with no table entry; a unit of another dimension is refused.

pint is loaded when a value's unit has to be converted, not before: reading its definitions takes about half a
second, which a load whose units are all the catalog's own spellings (most of them) need not pay. The catalog's
pint expressions are all checked then, before the first conversion.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from octracker.errors import OctrackerError

if TYPE_CHECKING:
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


class CatalogUnitError(OctrackerError):
    """A `[[unit]]` of the catalog whose pint expression pint cannot read: the project's catalog is to fix."""

    exit_code = 2


@functools.cache
def unit_registry() -> pint.UnitRegistry:
    import pint

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
    #: Where the units were read from, named when one of them is refused.
    origin: str = "the catalog"
    _expressions: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    #: Set once every unit is known to be one pint reads (an Event: a flag a frozen instance may set, across threads).
    _checked: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    _checking: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def __post_init__(self) -> None:
        for unit in self.units:
            for spelling in (unit.name, *unit.aliases):
                self._expressions.setdefault(spelling_key(spelling), unit.pint)

    def registry(self) -> pint.UnitRegistry:
        """pint's registry, once every unit of the book is known to be one pint reads (CatalogUnitError if not)."""
        import pint

        registry = unit_registry()
        with self._checking:
            if not self._checked.is_set():
                for n, unit in enumerate(self.units, start=1):
                    try:
                        registry.parse_units(unit.pint)
                    except (pint.errors.PintError, ValueError, AttributeError) as exc:
                        raise CatalogUnitError(
                            f"{self.origin}: unit #{n} ({unit.name}): pint cannot read {unit.pint!r} ({exc}); "
                            "fix its `pint` expression"
                        ) from None
                self._checked.set()
        return registry

    def same_unit(self, from_unit: str, to_unit: str) -> bool:
        """Whether both spellings name the same unit of the book (or are the same spelling): no conversion."""
        a, b = spelling_key(from_unit), spelling_key(to_unit)
        return a == b or (a in self._expressions and self._expressions.get(a) == self._expressions.get(b))

    def expression(self, unit: str) -> str:
        """The pint expression a spelling means: a catalog unit or alias, else the spelling itself."""
        return self._expressions.get(spelling_key(unit), unit.strip())

    def factor(self, from_unit: str, to_unit: str) -> float:
        """What a value in `from_unit` is multiplied by to be in `to_unit`; UnitMismatch when it cannot be."""
        if self.same_unit(from_unit, to_unit):
            return 1.0
        import pint

        registry = self.registry()
        try:
            source = registry.Quantity(1.0, registry.parse_units(self.expression(from_unit)))
            return float(source.to(registry.parse_units(self.expression(to_unit))).magnitude)
        except pint.errors.DimensionalityError:
            raise UnitMismatch(
                f"{from_unit!r} cannot be converted to {to_unit!r}: they measure different things"
            ) from None
        except (pint.errors.PintError, ValueError, AttributeError, TypeError, AssertionError):
            # pint's parser asserts on some punctuation (a unit of ";" alone) instead of raising its own error.
            raise UnitMismatch(
                f"unit {from_unit!r} is not a unit octracker knows; list it among the aliases "
                f"of {to_unit!r} in the catalog's [[unit]] table"
            ) from None
