"""Which country a passage of prose is about: counts of country names and demonyms, as ISO alpha-2."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

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
def _spellings() -> dict[str, str]:
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
    spellings = sorted(_spellings(), key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(s) for s in spellings) + r")(?!\w)")


def country_mentions(text: str) -> Counter[str]:
    """How many times each country (ISO alpha-2) is named or referred to by demonym in the text."""
    spellings = _spellings()
    return Counter(spellings[m.group(1)] for m in _pattern().finditer(text))


def main_country(text: str) -> str | None:
    """The country the text names most often, or None when none is named or two tie for first."""
    ranked = country_mentions(text).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]
