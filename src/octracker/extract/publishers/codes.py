"""Publishers' codes as the contract names them: native ids, geographies, observation flags, label codes."""

from __future__ import annotations

import functools
import re
import unicodedata

#: Providers whose native ids load without a catalog entry (CONTRACT.md, Identifiers): their unit is the
#: publisher's, and the catalog may map them to curated indicators.
NATIVE_PROVIDERS = ("estat", "cbs", "unodc")

#: Eurostat writes two countries with codes other than ISO 3166-1 (CONTRACT.md, Identifiers).
EUROSTAT_GEOS: dict[str, str] = {"EL": "GR", "UK": "GB"}

#: Eurostat aggregates as a labelled download names them, to the code Eurostat gives them (kept as published).
EUROSTAT_AGGREGATE_LABELS: dict[str, str] = {
    "european_union_27_countries_from_2020": "EU27_2020",
    "european_union_28_countries_2013_2020": "EU28",
    "european_union_27_countries_2007_2013": "EU27_2007",
    "euro_area_20_countries_from_2023": "EA20",
    "euro_area_19_countries_2015_2022": "EA19",
    "euro_area": "EA",
}

#: SDMX `CONF_STATUS` codes that mean the value is withheld (C confidential, D secondary confidentiality,
#: N not for publication); `F` (free) and an empty cell add no flag.
CONFIDENTIAL_STATUSES = frozenset({"C", "D", "N"})


@functools.lru_cache(maxsize=4096)  # a table repeats a few labels over many rows
def label_code(label: str) -> str:
    """A stable lower-case code for a label: accents dropped, every run of other characters one `_`.

    `Tertiary education (levels 5-8)` → `tertiary_education_levels_5_8`; a code is returned as its lower case.
    """
    bare = unicodedata.normalize("NFKD", label)
    bare = "".join(ch for ch in bare if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^a-z0-9]+", "_", bare).strip("_")


def native_id(provider: str, dataset: str, codes: list[str]) -> str:
    """`<provider>.<dataset>.<code>...` in lower case, codes stripped of the padding CBS writes."""
    parts = [provider, dataset, *codes]
    return ".".join(part.strip().lower() for part in parts)


def is_native_id(indicator_id: str) -> bool:
    """Whether an id is a publisher's native series: `<provider>.<dataset>.<code>...` of a known provider."""
    parts = indicator_id.split(".")
    return len(parts) >= 3 and parts[0] in NATIVE_PROVIDERS


def eurostat_geo(code: str) -> str:
    """A Eurostat geography code as the contract's id: `EL` → `GR`, `UK` → `GB`, the rest as published."""
    code = code.strip()
    return EUROSTAT_GEOS.get(code, code)


def cbs_geo(code: str) -> str:
    """A CBS region code as the contract's id: `NL01` (the whole country) → `NL`, others `NL-<code>`."""
    code = code.strip()
    return "NL" if code == "NL01" else f"NL-{code}"


@functools.lru_cache(maxsize=256)
def observation_flags(*published: str | None) -> str | None:
    """The publisher's flags as one lower-case string (`p`, `bp`, `c`), None when there are none.

    Eurostat writes a status as `p`, `b`, `bp`, `:C` (in a value) or `|C`; the separators `:` and `|` and
    spaces are not flags. Each flag letter is kept once, in the order published.
    """
    letters: list[str] = []
    for text in published:
        for letter in re.sub(r"[\s:|]", "", text or "").lower():
            if letter not in letters:
                letters.append(letter)
    return "".join(letters) or None


def dataset_from_name(name: str) -> str:
    """The dataset a file's name starts with (`une_rt_m.json` → `une_rt_m`), for a body that does not say it."""
    stem = re.split(r"[\\/]", name)[-1].split(".")[0]
    return stem.lower() or "unknown"
