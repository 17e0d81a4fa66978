"""Write docs/indicators.md, the indicator reference, from the catalog (schemas/indicators.toml).

    python scripts/indicator_reference.py           # rewrite the page
    python scripts/indicator_reference.py --check   # exit 1 when the page does not match the catalog

The page is generated, never edited by hand: `make docs` rewrites it and a test checks it is current.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from octracker.errors import SpecError
from octracker.tomlfiles import load_toml

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "schemas" / "indicators.toml"
PAGE = ROOT / "docs" / "indicators.md"

#: Families of indicators by the prefix of their id (the contract's identifiers), in page order.
FAMILIES = {
    "oci": "Global Organized Crime Index",
    "estat": "Eurostat",
    "cbs": "Statistics Netherlands (CBS)",
    "unodc": "UNODC",
}
PLAIN = "Figures from articles and statistics"
DIRECTIONS = {"up_is_bad": "a rise is bad", "down_is_bad": "a fall is bad", "neutral": "neutral"}
#: Keys the table shows in their own columns or sentences; any other key is listed as `key: value`.
SHOWN = {
    "id",
    "name",
    "unit",
    "direction",
    "frequency",
    "min",
    "max",
    "description",
    "group",
    "aggregate_of",
    "computed",
    "aliases",
}


def family(indicator_id: str) -> str:
    prefix = indicator_id.split(".", 1)[0] if "." in indicator_id else ""
    return FAMILIES.get(prefix, f"`{prefix}.`" if prefix else PLAIN)


def number(value: float | int) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def what_it_is(entry: dict, aggregates: dict[str, str]) -> str:
    parts = [entry.get("description", "").strip()]
    if entry.get("aggregate_of"):
        computed = " Always computed, never read." if entry.get("computed") else ""
        parts.append(f"The mean of the indicators in group `{entry['aggregate_of']}`.{computed}")
    if entry.get("group"):
        parent = aggregates.get(entry["group"])
        parts.append(f"Part of `{parent}`." if parent else f"Group `{entry['group']}`.")
    if entry.get("aliases"):
        parts.append("Also read as: " + ", ".join(f"“{alias}”" for alias in entry["aliases"]) + ".")
    for key in sorted(set(entry) - SHOWN):
        parts.append(f"{key}: `{entry[key]}`.")
    return cell(" ".join(p for p in parts if p))


def render(catalog: dict) -> str:
    """The page for a parsed catalog: one table per family, indicators in catalog order."""
    entries = catalog.get("indicator", [])
    aggregates = {e["aggregate_of"]: e["id"] for e in entries if e.get("aggregate_of")}
    families: dict[str, list[dict]] = {}
    for entry in entries:
        families.setdefault(family(entry["id"]), []).append(entry)
    order = [*FAMILIES.values(), PLAIN]
    lines = [
        "# Indicators",
        "",
        "<!-- Generated from schemas/indicators.toml by scripts/indicator_reference.py: do not edit by hand. -->",
        "",
        f"The catalog holds {len(entries)} indicators. Each is a table in `schemas/indicators.toml`; every refresh",
        "copies the catalog into the `indicators` table. A value outside the range or in another unit is refused.",
        "Direction says which way a change raises an alert; frequency how often a value is expected (an annual",
        "series is compared year with year, a biennial index edition with edition).",
    ]
    for name in sorted(families, key=lambda f: (order.index(f) if f in order else len(order), f)):
        lines += [
            "",
            f"## {name}",
            "",
            "| id | name | unit | range | direction | frequency | what it is |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in families[name]:
            lines.append(
                f"| `{e['id']}` | {cell(e['name'])} | {cell(e['unit'])} | "
                f"{number(e['min'])} to {number(e['max'])} | "
                f"{DIRECTIONS.get(e['direction'], e['direction'])} | {e['frequency']} | "
                f"{what_it_is(e, aggregates)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page does not match the catalog")
    args = parser.parse_args(argv)
    try:
        page = render(load_toml(CATALOG))
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != page:
            print(
                f"{PAGE.relative_to(ROOT)} does not match {CATALOG.relative_to(ROOT)}: "
                "run `make docs` (or python scripts/indicator_reference.py) and commit the page",
                file=sys.stderr,
            )
            return 1
        return 0
    PAGE.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
