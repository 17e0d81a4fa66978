"""Wording the article extractors read, kept as data in one place; the code only compiles it."""

from __future__ import annotations

#: Words right before a number that say how exact it is. The longest phrase that ends the text before the
#: number wins ("no more than" beats "more than"); anything else is `exact`.
QUALIFIER_WORDS: dict[str, str] = {
    "nearly": "approx",
    "almost": "approx",
    "about": "approx",
    "approximately": "approx",
    "around": "approx",
    "roughly": "approx",
    "some": "approx",
    "close to": "approx",
    "an estimated": "approx",
    "over": "lower_bound",
    "more than": "lower_bound",
    "at least": "lower_bound",
    "upwards of": "lower_bound",
    "in excess of": "lower_bound",
    "no fewer than": "lower_bound",
    "less than": "upper_bound",
    "under": "upper_bound",
    "fewer than": "upper_bound",
    "up to": "upper_bound",
    "at most": "upper_bound",
    "no more than": "upper_bound",
}

#: Articles allowed between a qualifier and its number: "nearly a 50% increase".
QUALIFIER_FILLERS: tuple[str, ...] = ("a", "an")

#: Small numbers written as words; articles rarely spell out larger ones.
NUMBER_WORDS: dict[str, float] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}

#: Fractions written as words ("a third", "one-third"); a hyphen or a space may join the two words.
FRACTION_WORDS: dict[str, float] = {
    "a half": 1 / 2,
    "one half": 1 / 2,
    "a third": 1 / 3,
    "one third": 1 / 3,
    "two thirds": 2 / 3,
    "a quarter": 1 / 4,
    "one quarter": 1 / 4,
    "three quarters": 3 / 4,
}

#: Words that scale the number before them: "12 million people".
MULTIPLIERS: dict[str, float] = {"thousand": 1e3, "million": 1e6, "billion": 1e9}

MONTHS: dict[str, int] = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

#: Units written after a number, by the unit the catalog uses. Longest spelling is tried first.
UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "tonnes": ("metric tons", "metric tonnes", "tonnes", "tonne", "tons", "ton"),
    "kg": ("kilograms", "kilogram", "kilos", "kilo", "kg"),
    "%": ("%", "percent", "per cent", "percentage points", "percentage point"),
    "per 100,000 people": (
        "per 100,000 people",
        "per 100,000 inhabitants",
        "per 100,000 residents",
        "per 100,000 population",
        "per 100,000",
        "per 100 000",
        "per 100k",
    ),
}

#: Year-to-date wording that makes a figure partial, and how its `as_of` is read: `published` (the
#: publication date, when the figure's year is the publication year), `date` (the date the phrase names:
#: "by 19 December") or a fixed `MM-DD` of the figure's year. `{date}` stands for a day-and-month date.
YTD_PHRASES: tuple[tuple[str, str], ...] = (
    (r"so far this year", "published"),
    (r"so far(?! as\b)", "published"),
    (r"to date", "published"),
    (r"year[- ]to[- ]date", "published"),
    (r"since (?:january|the (?:start|beginning) of (?:the|this) year)", "published"),
    (r"(?:by|as of|through|until|up to) {date}", "date"),
    (r"in the first half", "06-30"),
    (r"in the first six months", "06-30"),
    (r"in the first quarter", "03-31"),
    (r"in the first three months", "03-31"),
    (r"in the first nine months", "09-30"),
)

#: Years named relative to the publication date.
RELATIVE_YEARS: dict[str, int] = {"this year": 0, "last year": -1, "next year": 1}

#: Years named relative to the year the sentence is about: "52 tonnes the year before".
PREVIOUS_YEAR_PHRASES: tuple[str, ...] = (
    "the year before",
    "a year earlier",
    "the previous year",
    "the prior year",
    "a year before",
)

#: Currency marks before or after a number: money amounts are never indicator values here.
CURRENCY_SYMBOLS: tuple[str, ...] = ("$", "€", "£", "US$", "USD", "EUR", "GBP")
CURRENCY_WORDS: tuple[str, ...] = ("dollars", "dollar", "euros", "euro", "pounds", "pound", "USD", "EUR", "GBP")

#: Clock-time marks after a number: "6:30 p.m.", "9 a.m.".
CLOCK_WORDS: tuple[str, ...] = ("a.m.", "p.m.", "am", "pm", "o'clock", "hrs")

#: Time units; a number followed by one and "ago" is a relative date, by one and "old" an age.
TIME_UNITS: tuple[str, ...] = (
    "seconds",
    "second",
    "minutes",
    "minute",
    "hours",
    "hour",
    "days",
    "day",
    "weeks",
    "week",
    "months",
    "month",
    "years",
    "year",
)

#: Web-page furniture that carries numbers but no figures.
PAGE_FURNITURE: tuple[str, ...] = ("min read", "minute read", "comments", "shares", "likes")

#: Words that may follow a number that still counts as "bare" (no noun of its own): "Brazil's 19 or …".
BARE_FOLLOWERS: frozenset[str] = frozenset(
    {
        "or",
        "and",
        "in",
        "at",
        "by",
        "on",
        "than",
        "while",
        "but",
        "compared",
        "versus",
        "vs",
        "against",
        "last",
        "this",
        "so",
    }
)

#: Context an indicator needs beyond its aliases. `unit`: the unit a number must carry to be matched without
#: an alias; `bare`: whether a number with no noun of its own may be matched from the sentence alone;
#: `requires`: groups of words, one of each group must occur in the sentence (or, for a number with a unit,
#: in its paragraph). Article indicators only; index scores (ids with a namespace) are never proposed.
INDICATOR_CUES: dict[str, dict] = {
    "cocaine_seized_tonnes": {
        "unit": "tonnes",
        "bare": False,
        "requires": (
            ("cocaine",),
            (
                "seized",
                "seize",
                "seizes",
                "seizing",
                "seizure",
                "seizures",
                "confiscated",
                "confiscation",
                "intercepted",
                "interceptions",
            ),
        ),
    },
    "homicide_rate_per_100k": {
        "unit": "per 100,000 people",
        "bare": True,
        "requires": (("homicide rate", "murder rate", "homicides"), ("per 100,000", "per 100 000", "per 100k")),
    },
    "shooting_deaths": {
        "unit": None,
        "bare": False,
        "requires": (("shooting", "shootings", "shot", "gunfire", "gunmen", "gunman"),),
    },
}

#: Abbreviations whose full stop does not end a sentence. Upper-case initialisms ("U.S.") and single
#: initials ("J.") are recognised by shape; "p.m." ends a sentence only before a capital.
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "mt",
        "gen",
        "sen",
        "rep",
        "gov",
        "lt",
        "col",
        "capt",
        "sgt",
        "insp",
        "supt",
        "det",
        "jr",
        "sr",
        "e.g",
        "i.e",
        "vs",
        "approx",
        "no",
        "nos",
        "fig",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    }
)
