"""Names for geo codes, for people reading charts and reports (the warehouse keeps only the codes)."""

from __future__ import annotations

from pathlib import Path

import pycountry

from octracker.content.places import load_places

#: The project's place gazetteer, whose first name for a geo is the one shown (ports, regions, groups).
PLACES_FILE = "places.toml"


def load_place_names(schemas_dir: Path) -> dict[str, str]:
    """geo -> display name from `schemas/places.toml` (its first name), or nothing when there is no gazetteer."""
    path = schemas_dir / PLACES_FILE
    if not path.exists():
        return {}
    names: dict[str, str] = {}
    for name, geo, _rank in load_places(path).names:
        names.setdefault(geo, name[:1].upper() + name[1:])
    return names


def geo_name(code: str, places: dict[str, str] | None = None) -> str:
    """A readable name: the project's place name, else the ISO country or region name, else the code."""
    if places and code in places:
        return places[code]
    if code == "EU":
        return "European Union"
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if country is not None:
        return getattr(country, "common_name", None) or country.name
    subdivision = pycountry.subdivisions.get(code=code) if "-" in code else None
    return subdivision.name if subdivision is not None else code


def geo_label(code: str, places: dict[str, str] | None = None) -> str:
    """'BE Belgium', or the bare code when no name is known."""
    name = geo_name(code, places)
    return code if name == code else f"{code} {name}"
