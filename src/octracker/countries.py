"""Countries: any common spelling of a name to ISO 3166-1 alpha-2, and which country a passage of prose is about."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache, lru_cache

import pycountry

#: Demonyms and adjectives that name a country without its name. Kept short on purpose: words that
#: also name a language ("French", "German") would credit Belgium's languages to France or Germany.
DEMONYMS: dict[str, str] = {
    "Dutch": "NL",
    "Belgian": "BE",
    "Belgians": "BE",
    "Flemish": "BE",
    "Walloon": "BE",
}

#: Short forms the prose uses that pycountry does not list as a name.
EXTRA_NAMES: dict[str, str] = {
    "Holland": "NL",
    "Czech Republic": "CZ",
    "Turkey": "TR",
    "Russia": "RU",
    "UK": "GB",
    "United Kingdom": "GB",
    "US": "US",
    "USA": "US",
}


@cache
def _prose_spellings() -> dict[str, str]:
    """Every spelling this module recognises, mapped to the ISO alpha-2 code."""
    spellings: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            spelling = getattr(country, attr, None)
            if spelling:
                spellings[spelling] = country.alpha_2
    spellings.update(EXTRA_NAMES)
    spellings.update(DEMONYMS)
    return spellings


@cache
def _pattern() -> re.Pattern[str]:
    # Longest spellings first so "Papua New Guinea" is not also counted as "Guinea"; case-sensitive so
    # "turkey" or "chad" in running prose do not count.
    spellings = sorted(_prose_spellings(), key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(s) for s in spellings) + r")(?!\w)")


def country_mentions(text: str) -> Counter[str]:
    """How many times each country (ISO alpha-2) is named or referred to by demonym in the text."""
    spellings = _prose_spellings()
    return Counter(spellings[m.group(1)] for m in _pattern().finditer(text))


def main_country(text: str) -> str | None:
    """The country the text names most often, or None when none is named or two tie for first."""
    ranked = country_mentions(text).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


# Names in tables: one cell, any common spelling.

#: Spellings pycountry does not know (keys are normalised: accents dropped, lower case, punctuation to '_').
COUNTRY_ALIASES: dict[str, str] = {
    "belgique": "BE",
    "belgie": "BE",
    "belgien": "BE",
    "belgio": "BE",
    "belgica": "BE",
    "nederland": "NL",
    "holland": "NL",
    "pays_bas": "NL",
    "niederlande": "NL",
    "paises_bajos": "NL",
    "deutschland": "DE",
    "allemagne": "DE",
    "duitsland": "DE",
    "frankrijk": "FR",
    "luxemburg": "LU",
    "uk": "GB",
    "great_britain": "GB",
    "britain": "GB",
    "turkey": "TR",
    "ivory_coast": "CI",
    "cape_verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "east_timor": "TL",
    "czechia": "CZ",
    "kyrgyz_republic": "KG",
    "slovak_republic": "SK",
    "lao_pdr": "LA",
    "dr_congo": "CD",
    "drc": "CD",
    "congo_dem_rep": "CD",
    "congo_kinshasa": "CD",
    "democratic_republic_of_congo": "CD",
    "democratic_republic_of_the_congo": "CD",
    "congo_rep": "CG",
    "republic_of_congo": "CG",
    "republic_of_the_congo": "CG",
    "congo_brazzaville": "CG",
    "korea_rep": "KR",
    "republic_of_korea": "KR",
    "korea_dpr": "KP",
    "korea_dem_people_s_rep": "KP",
    "egypt_arab_rep": "EG",
    "iran_islamic_rep": "IR",
    "yemen_rep": "YE",
    "venezuela_rb": "VE",
    "micronesia_fed_sts": "FM",
    # Short names pycountry only finds by a fuzzy search (0.3 s each): the index workbook writes them so.
    "micronesia": "FM",
    "russia": "RU",
    "brunei": "BN",
    "cote_d_ivoire": "CI",
    "vatican_city": "VA",
    "sao_tome_and_principe": "ST",
    # Eurostat's label for TR since 2022 (its SDMX-CSV with labels writes it): pycountry finds it only fuzzily.
    "turkiye": "TR",
}

_GEO_SHAPE = re.compile(r"^(?:[A-Z]{2}|[A-Z]{2}-[A-Z0-9]{1,3}|[A-Z]{2}[A-Z2-9]{3}|EU)$")
#: A CBS region as the contract names it (`NL-` and CBS's code): a part of the country (LD), province (PV), COROP
#: area (CR), municipality (GM), district (WK, the municipality's digits and two more) or neighbourhood (BU, two more).
_CBS_REGION = re.compile(r"^NL-(?:(?:LD|PV|CR)[0-9]{2}|GM[0-9]{4}|WK[0-9]{6}|BU[0-9]{8})$")


def _plain(text: str) -> str:
    """Accents dropped, case folded, '&' spelled out, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(bare.replace("&", " and ").split())


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _cell_spellings(name: str) -> list[str]:
    """The name and its usual rewrites: no '(…)', no leading/trailing 'the', 'St.' as 'Saint'."""
    plain = _plain(name)
    shorter = re.sub(r"\s*\(.*?\)\s*", " ", plain).strip()
    shorter = re.sub(r"^the\s+|,\s*the$", "", shorter).strip()
    saint = re.sub(r"^st\.?\s+", "saint ", shorter)
    return list(dict.fromkeys([plain, shorter, saint]))


@lru_cache(maxsize=4096)
def country_code(name: str) -> str | None:
    """ISO 3166-1 alpha-2 code for a country name, alpha-2/alpha-3/numeric code, or alias; None if unknown."""
    if not name or not name.strip():
        return None
    for spelling in _cell_spellings(name):
        if _key(spelling) in COUNTRY_ALIASES:
            return COUNTRY_ALIASES[_key(spelling)]
        try:
            return pycountry.countries.lookup(spelling).alpha_2
        except LookupError:
            pass
    return _fuzzy_code(_cell_spellings(name)[-1])


def _fuzzy_code(spelling: str) -> str | None:
    """The one country whose own name contains the spelling (pycountry's fuzzy search also matches
    region names, so 'Kosovo' would give Serbia; those matches are not taken)."""
    if len(spelling) < 4:
        return None
    try:
        found = pycountry.countries.search_fuzzy(spelling)
    except LookupError:
        return None
    named = [
        c
        for c in found
        if any(spelling in _plain(getattr(c, f, "") or "") for f in ("name", "official_name", "common_name"))
    ]
    return named[0].alpha_2 if len(named) == 1 else None


@lru_cache(maxsize=4096)
def is_known_geo(code: str) -> bool:
    """True for an ISO 3166-1 alpha-2 or ISO 3166-2 code pycountry knows, a UN/LOCODE of a known country, EU, or
    a CBS region (`NL-GM0363`, `NL-WK036301`, `NL-BU03630000`, the contract's id for CBS's region codes).

    A group of ports that reports as one (`BEANR+BEZEE`) is known when each part is a UN/LOCODE of a known
    country, listed once, in alphabetical order (the canonical model's rule: one spelling per group).
    """
    if "+" in code:
        ports = code.split("+")
        return (
            ports == sorted(set(ports))
            and len(ports) > 1
            and all(len(p) == 5 and "-" not in p and is_known_geo(p) for p in ports)
        )
    if _CBS_REGION.match(code):
        return True
    if not _GEO_SHAPE.match(code):
        return False
    if code == "EU":
        return True
    if "-" in code:
        return pycountry.subdivisions.get(code=code) is not None
    return pycountry.countries.get(alpha_2=code[:2]) is not None
