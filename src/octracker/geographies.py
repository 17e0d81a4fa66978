"""Names for geo codes, for people reading charts and reports (the warehouse keeps only the codes)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pycountry

#: The project's own place names (ports, cities), when the content declares them: `[[place]]` tables with
#: `geo` and `names` (the first name is the one shown).
PLACES_FILE = "places.toml"


def load_place_names(schemas_dir: Path) -> dict[str, str]:
    """geo -> display name from `schemas/places.toml`, or nothing when the project has no such file."""
    path = schemas_dir / PLACES_FILE
    if not path.exists():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # a name is a nicety: a broken file is reported by the pipelines that read it
    names = {}
    for place in raw.get("place", []):
        if isinstance(place, dict) and place.get("geo") and place.get("names"):
            first = str(place["names"][0])
            names[str(place["geo"])] = first[:1].upper() + first[1:]
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
