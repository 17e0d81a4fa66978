"""Candidate figures proposed from an unseen article, for a person to confirm into a pipeline spec.

Each number in the article is read with its neighbours: the noun or unit after it names the indicator
(through the catalog's aliases and the cues in `wording.py`), the places and years in its clause name the
geography and the year, and year-to-date wording makes it partial. Numbers that are years, dates, ages,
clock times, money or percentages of nothing are skipped. Nothing here is loaded: a candidate is a proposal.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from octracker.content.catalog import Catalog, Indicator
from octracker.content.places import Gazetteer, PlaceMention, load_places
from octracker.errors import SpecError
from octracker.extract.numbers import NumberMention, find_numbers, qualifier_before
from octracker.extract.sentences import Sentence, flatten, normalise, split_sentences
from octracker.extract.wording import (
    BARE_FOLLOWERS,
    CLOCK_WORDS,
    CURRENCY_SYMBOLS,
    CURRENCY_WORDS,
    INDICATOR_CUES,
    MONTHS,
    PAGE_FURNITURE,
    PREVIOUS_YEAR_PHRASES,
    RELATIVE_YEARS,
    TIME_UNITS,
    UNIT_WORDS,
    YTD_PHRASES,
)

#: How many sentences back a place is looked for when a number's own sentence names none.
LOOK_BACK_SENTENCES = 3
#: How far into the words after a number an indicator's alias may start: "60 drug-related shootings".
ALIAS_OFFSET = 2


def _alternation(words: tuple[str, ...] | list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_MONTHS = _alternation(list(MONTHS))
_DATE = (
    rf"(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)? (?P<month>{_MONTHS})\.?(?:,? (?P<year>\d{{4}}))?"
    rf"|(?P<month2>{_MONTHS})\.? (?P<day2>\d{{1,2}})(?:st|nd|rd|th)?(?:,? (?P<year2>\d{{4}}))?)"
)
_UNITS = [
    (unit, re.compile(rf"^\s*(?:{_alternation(spellings)})(?!\w)", re.IGNORECASE))
    for unit, spellings in UNIT_WORDS.items()
]
_YTD = [(re.compile(rf"(?<!\w){pattern.format(date=_DATE)}(?!\w)", re.IGNORECASE), how) for pattern, how in YTD_PHRASES]
_RELATIVE_YEAR = re.compile(rf"(?<!\w)(?:{_alternation(list(RELATIVE_YEARS))})(?!\w)", re.IGNORECASE)
_PREVIOUS_YEAR = re.compile(rf"(?<!\w)(?:{_alternation(PREVIOUS_YEAR_PHRASES)})(?!\w)", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r";|\s*[\u2014\u2013]\s*|\s-{1,2}\s|,\s+(?:and|but|while|whereas)\s")
_TAIL_END = re.compile(r"[,;:!?()\"\u2014\u2013]|\.(?:\s|$)")
_SKIPS: list[tuple[str, re.Pattern, re.Pattern]] = [
    # (reason, pattern on the text before the number, pattern on the text after it)
    (
        "date",
        re.compile(rf"(?<!\w)(?:{_MONTHS})\.?\s+$", re.IGNORECASE),
        re.compile(rf"^(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})(?!\w)", re.IGNORECASE),
    ),
    ("date", re.compile(r"\d[-/]$"), re.compile(r"^[-/]\d")),
    (
        "age",
        re.compile(r"(?<!\w)aged\s+$", re.IGNORECASE),
        re.compile(r"^\s*-?\s*(?:years?|months?|weeks?|days?)[- ]old(?!\w)", re.IGNORECASE),
    ),
    ("clock", re.compile(r"\d:$"), re.compile(rf"^(?::\d\d|\s*(?:{_alternation(CLOCK_WORDS)})(?!\w))", re.IGNORECASE)),
    (
        "money",
        re.compile(rf"(?:{_alternation(CURRENCY_SYMBOLS)})\s*$"),
        re.compile(rf"^\s+(?:{_alternation(CURRENCY_WORDS)})(?!\w)", re.IGNORECASE),
    ),
    (
        "relative date",
        re.compile(r"(?!)"),
        re.compile(rf"^\s+(?:{_alternation(TIME_UNITS)})\s+ago(?!\w)", re.IGNORECASE),
    ),
    (
        "page furniture",
        re.compile(r"(?!)"),
        re.compile(rf"^\s+(?:{_alternation(PAGE_FURNITURE)})(?!\w)", re.IGNORECASE),
    ),
    ("rate base", re.compile(r"(?<!\w)per\s+$", re.IGNORECASE), re.compile(r"(?!)")),
    ("code", re.compile(r"[A-Za-z]-$"), re.compile(r"(?!)")),
]


@dataclass(frozen=True)
class Candidate:
    """A number in an article that may be an indicator value, with its best-guess reading."""

    candidate_id: str
    number: float
    raw: str
    unit: str | None
    year: int | None
    as_of: dt.date | None
    is_partial: bool
    indicator_id: str | None
    geo: str | None
    qualifier: str
    sentence: str
    line_no: int
    confidence: float


@dataclass(frozen=True)
class _Context:
    """What every sentence of one article is read against."""

    catalog: Catalog
    aliases: tuple[tuple[tuple[str, ...], Indicator], ...]
    gazetteer: Gazetteer
    published: dt.date | None
    sentences: tuple[Sentence, ...]
    flats: tuple[str, ...]
    paragraphs: dict[int, str]


def propose_candidates(
    text: str,
    *,
    catalog: Catalog,
    published: dt.date | None = None,
    places: Gazetteer | None = None,
) -> list[Candidate]:
    """Numbers in an article that may be indicator values, each with its reading and a confidence (0–1).

    `places` defaults to `places.toml` beside the catalog file; `published` resolves "this year" and
    "so far this year".
    """
    # Load inputs.
    gazetteer = places if places is not None else default_places(catalog)
    sentences = tuple(split_sentences(text))
    flats = tuple(flatten(s.text) for s in sentences)
    paragraphs: dict[int, str] = {}
    for s, flat in zip(sentences, flats):
        paragraphs[s.paragraph] = f"{paragraphs.get(s.paragraph, '')} {flat}".strip()
    context = _Context(catalog, _alias_tokens(catalog), gazetteer, published, sentences, flats, paragraphs)
    # Process data.
    candidates: list[Candidate] = []
    for index in range(len(sentences)):
        candidates.extend(_read_sentence(context, index))
    # Save outputs.
    return candidates


def default_places(catalog: Catalog) -> Gazetteer:
    """The gazetteer `places.toml` in the catalog's folder (normally `schemas/`)."""
    if catalog.path is None:
        raise SpecError("no place gazetteer: the catalog was not read from a file; pass places=load_places(path)")
    path = catalog.path.with_name("places.toml")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return load_places(path)  # refuses with the path and what to do
    return _load_places_cached(path, data)


@functools.lru_cache(maxsize=8)
def _load_places_cached(path: Path, data: bytes) -> Gazetteer:
    """The gazetteer these bytes of `path` give, kept by them (a scheduler runs for days): an edit that leaves the
    file's modification time as it was (a copy that keeps times, a build that sets every file's alike) is read too."""
    return load_places(path, data)


def _alias_tokens(catalog: Catalog) -> tuple[tuple[tuple[str, ...], Indicator], ...]:
    """Every spelling of every article indicator as words, longest first; index scores are left out."""
    spellings = []
    for indicator in catalog.indicators:
        if "." in indicator.id:
            continue
        for spelling in (indicator.name, *indicator.aliases):
            spellings.append((tuple(_words(spelling)), indicator))
    return tuple(sorted(spellings, key=lambda item: -len(item[0])))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _read_sentence(context: _Context, index: int) -> list[Candidate]:
    """The candidates of one sentence, left to right."""
    sentence, flat = context.sentences[index], context.flats[index]
    numbers = find_numbers(flat)
    clauses = _clause_spans(flat)
    places = context.gazetteer.find(flat)
    years = _year_mentions(flat, numbers, context.published)
    out: list[Candidate] = []
    previous: tuple[int, Indicator] | None = None  # clause and indicator of the last matched number
    seen: dict[tuple[str, str | None], int] = {}
    for number in numbers:
        before, after = flat[: number.start], flat[number.end :]
        if _skip_reason(before, after, number):
            continue
        tail = _tail(flat, number, numbers)
        unit = _unit_after(after)
        clause = _clause_of(clauses, number.start)
        indicator, indicator_score, unit_explicit = _indicator(context, index, number, tail, unit)
        if indicator is None and _is_bare(tail, unit) and previous and previous[0] == clause:
            # "89 shootings in 2023 and 92 in 2024": the second number counts the same thing.
            indicator, indicator_score = previous[1], 0.2
        if number.in_words and not (unit or unit_explicit):
            continue  # "one of", "six police zones": words are numbers only before a counted noun
        if unit == "%" and (indicator is None or not _is_percent(indicator.unit)):
            continue
        if indicator is not None:
            previous = (clause, indicator)
        geo, geo_score = _geo(context, index, number, clauses, places)
        year, partial, as_of = _period(flat, number, tail, clauses, years, context.published)
        key = (number.raw, indicator.id if indicator else None)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        score = 0.1 + indicator_score + geo_score + (0.2 if year is not None else 0) + (0.2 if unit_explicit else 0)
        out.append(
            Candidate(
                candidate_id=_candidate_id(sentence.text, number.raw, key[1], occurrence),
                number=number.value,
                raw=number.raw,
                unit=indicator.unit if indicator else unit,
                year=year,
                as_of=as_of,
                is_partial=partial,
                indicator_id=key[1],
                geo=geo,
                qualifier=qualifier_before(before),
                sentence=sentence.text,
                line_no=sentence.line_no,
                confidence=round(min(score, 1.0), 2),
            )
        )
    return out


def _skip_reason(before: str, after: str, number: NumberMention) -> str | None:
    """Why a number is not a figure (a year, date, age, clock time, money…), or None."""
    for reason, before_pattern, after_pattern in _SKIPS:
        if before_pattern.search(before) or after_pattern.search(after):
            return reason
    if number.looks_like_year and _unit_after(after) is None:
        return "year"
    return None


def _tail(flat: str, number: NumberMention, numbers: list[NumberMention]) -> str:
    """The words after a number up to the clause's punctuation or the next number that is not a year."""
    end = len(flat)
    stop = _TAIL_END.search(flat, number.end)
    if stop:
        end = stop.start()
    for other in numbers:
        if other.start >= number.end and not other.looks_like_year:
            end = min(end, other.start)
            break
    return flat[number.end : end]


def _unit_after(after: str) -> str | None:
    """The unit written right after a number, as the catalog spells it, or None."""
    for unit, pattern in _UNITS:
        if pattern.search(after):
            return unit
    return None


def _is_bare(tail: str, unit: str | None) -> bool:
    """A number with no noun or unit of its own: "… the United States' 6.8, and …"."""
    words = _words(tail)
    return unit is None and (not words or words[0] in BARE_FOLLOWERS)


def _is_percent(unit: str) -> bool:
    return "%" in unit or "percent" in unit.lower()


def _indicator(
    context: _Context, index: int, number: NumberMention, tail: str, unit: str | None
) -> tuple[Indicator | None, float, bool]:
    """The indicator a number is a value of, how sure (0.2 or 0.3), and whether its unit is written."""
    words = _words(tail)
    for offset in range(min(ALIAS_OFFSET, len(words) - 1) + 1):
        for tokens, indicator in context.aliases:
            if tuple(words[offset : offset + len(tokens)]) != tokens:
                continue
            if unit is not None and unit != indicator.unit:
                continue
            where = _cue_context(context, index, indicator, paragraph_ok=True)
            if where and indicator.min <= number.value <= indicator.max:
                return indicator, 0.3 if where == "sentence" else 0.2, True
    bare = _is_bare(tail, unit)
    for indicator_id, cue in INDICATOR_CUES.items():
        if indicator_id not in context.catalog:
            continue
        indicator = context.catalog[indicator_id]
        if not indicator.min <= number.value <= indicator.max:
            continue
        if unit is not None and unit == cue["unit"]:
            where = _cue_context(context, index, indicator, paragraph_ok=True)
            if where:
                return indicator, 0.3 if where == "sentence" else 0.2, True
        elif bare and cue["bare"] and _cue_context(context, index, indicator, paragraph_ok=False):
            return indicator, 0.2, False
    return None, 0.0, unit is not None


def _cue_context(context: _Context, index: int, indicator: Indicator, *, paragraph_ok: bool) -> str | None:
    """Where an indicator's required words are found: 'sentence', 'paragraph', or None when missing."""
    requires = INDICATOR_CUES.get(indicator.id, {}).get("requires", ())
    if _has_all(context.flats[index], requires):
        return "sentence"
    paragraph = context.paragraphs[context.sentences[index].paragraph]
    if paragraph_ok and _has_all(paragraph, requires):
        return "paragraph"
    return None


def _has_all(text: str, groups: tuple[tuple[str, ...], ...]) -> bool:
    lowered = text.lower()
    return all(any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", lowered) for w in group) for group in groups)


def _clause_spans(flat: str) -> list[tuple[int, int]]:
    """Clauses of a sentence, cut at semicolons, dashes and ", and/but/while"."""
    spans, start = [], 0
    for cut in _CLAUSE_BREAK.finditer(flat):
        spans.append((start, cut.start()))
        start = cut.end()
    spans.append((start, len(flat)))
    return spans


def _clause_of(clauses: list[tuple[int, int]], position: int) -> int:
    for n, (_start, end) in enumerate(clauses):
        if position < end:
            return n
    return len(clauses) - 1


def _geo(
    context: _Context,
    index: int,
    number: NumberMention,
    clauses: list[tuple[int, int]],
    places: list[PlaceMention],
) -> tuple[str | None, float]:
    """The place a number is about and how sure: its clause, its sentence, then a few sentences back."""
    flat = context.flats[index]
    clause = _clause_of(clauses, number.start)
    for mention in places:
        # "Brazil's 19": a possessive right before the number settles it.
        if mention.end <= number.start and re.fullmatch(r"'s?\s*", flat[mention.end : number.start]):
            return mention.geo, 0.2
    in_clause = [m for m in places if _clause_of(clauses, m.start) == clause]
    for group in (in_clause, places):
        if group:
            return _nearest_specific(group, number).geo, 0.2
    for back in range(index - 1, max(index - 1 - LOOK_BACK_SENTENCES, -1), -1):
        earlier = context.gazetteer.find(context.flats[back])
        if earlier:
            best = max(m.rank for m in earlier)
            return next(m for m in earlier if m.rank == best).geo, 0.1
    return None, 0.0


def _nearest_specific(mentions: list[PlaceMention], number: NumberMention) -> PlaceMention:
    """The most specific place; among equals the nearest, a preceding one winning a tie."""
    best = max(m.rank for m in mentions)

    def distance(m: PlaceMention) -> tuple[int, int]:
        if m.end <= number.start:
            return number.start - m.end, 0
        return m.start - number.end, 1

    return min((m for m in mentions if m.rank == best), key=distance)


def _year_mentions(flat: str, numbers: list[NumberMention], published: dt.date | None) -> list[tuple[int, int | None]]:
    """Positions of the years a sentence names: plain years and "this year"/"last year" (None unresolved)."""
    mentions: list[tuple[int, int | None]] = []
    for number in numbers:
        if number.looks_like_year and _unit_after(flat[number.end :]) is None:
            mentions.append((number.start, int(number.value)))
    for found in _RELATIVE_YEAR.finditer(flat):
        shift = RELATIVE_YEARS[found.group().lower()]
        mentions.append((found.start(), published.year + shift if published else None))
    return sorted(mentions, key=lambda m: m[0])


def _period(
    flat: str,
    number: NumberMention,
    tail: str,
    clauses: list[tuple[int, int]],
    years: list[tuple[int, int | None]],
    published: dt.date | None,
) -> tuple[int | None, bool, dt.date | None]:
    """Year, partial flag and as-of date of a number, from its tail, its clause and its sentence."""
    year = _year_of(number, tail, clauses, years)
    clause = clauses[_clause_of(clauses, number.start)]
    partial, as_of = False, None
    for pattern, how in _YTD:
        found = pattern.search(flat, clause[0], clause[1])
        if not found:
            continue
        partial = True
        if how == "published":
            if published is not None and year in (None, published.year):
                year, as_of = published.year, published
        elif how == "date":
            as_of = _date_in(found, year if year is not None else (published.year if published else None))
            if year is None and as_of is not None:
                year = as_of.year
        elif year is not None:
            month, day = (int(part) for part in how.split("-"))
            as_of = dt.date(year, month, day)
        break
    if published is not None and year == published.year and published < dt.date(year, 12, 31):
        partial = True  # the year was not over when the article appeared
    return year, partial, as_of


def _year_of(
    number: NumberMention, tail: str, clauses: list[tuple[int, int]], years: list[tuple[int, int | None]]
) -> int | None:
    """The year a number belongs to: one in its own words, else the nearest in its clause, else its sentence."""
    own = [y for pos, y in years if number.end <= pos < number.end + len(tail)]
    if own:
        return own[0]
    clause = clauses[_clause_of(clauses, number.start)]
    in_clause = [(pos, y) for pos, y in years if clause[0] <= pos < clause[1]]
    year = None
    found = False
    for group in (in_clause, years):
        preceding = [y for pos, y in group if pos < number.start]
        following = [y for pos, y in group if pos >= number.end]
        if preceding or following:
            year, found = (preceding[-1] if preceding else following[0]), True
            break
    if found and year is not None and _PREVIOUS_YEAR.search(tail):
        year -= 1
    return year


def _date_in(found: re.Match, year: int | None) -> dt.date | None:
    """The date a year-to-date phrase names ("by 19 December"), in `year` unless it says its own."""
    day = found.group("day") or found.group("day2")
    month = found.group("month") or found.group("month2")
    stated = found.group("year") or found.group("year2")
    if stated:
        year = int(stated)
    if year is None:
        return None
    try:
        return dt.date(year, MONTHS[month.lower().rstrip(".")], int(day))
    except ValueError:
        return None


def _candidate_id(sentence: str, raw: str, indicator_id: str | None, occurrence: int) -> str:
    """A short, stable id: the sentence, the number as written and the indicator."""
    key = f"{normalise(sentence)}|{raw}|{indicator_id or ''}"
    if occurrence:
        key += f"|{occurrence}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
