"""Global Organized Crime Index country profiles (text copied from the index website) into observations.

A profile is a score block (per printed indicator three lines: name, score and change run together as in
`5.330.10` or `2.00-0.50` or `5.50 n/a`, definition) followed by a narrative that names the country.
Problems point at the line at fault: the name line for name problems, the score line for score problems,
the block's first line for whole-block problems.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from octracker.content.catalog import Catalog, Indicator
from octracker.countries import country_mentions, main_country
from octracker.extracts import EXTRACT_SCHEMA, Extract, Problem

PREFIX = "oci."
CENT = Decimal("0.01")
#: How far a printed aggregate (and its change) may sit from the mean of its components: the index rounds
#: each published score, so a pillar's change can differ from the mean of component changes by 0.01.
TOLERANCE = Decimal("0.01") + Decimal("1e-9")

#: Lines where the website's own text begins; nothing from there on is narrative.
WEBSITE_TEXT_STARTS = ("For a better experience, please rotate your device",)

_MINUS = "-\u2212\u2013"  # ASCII hyphen, Unicode minus and en dash all appear in copied text
SCORE_LINE = re.compile(
    rf"^(?P<score>\d{{1,2}}\.\d{{2}})\s*(?P<change>[+{_MINUS}]?\d{{1,2}}\.\d{{2}}|n/a)$", re.IGNORECASE
)
#: Short runs of digits and punctuation: a line meant as a score line even when it does not parse.
SCORE_LIKE = re.compile(rf"^[0-9][0-9.,\s+{_MINUS}]*(?:n/?a)?$", re.IGNORECASE)


@dataclass(frozen=True)
class ProfileScore:
    """One printed indicator of a block: its score, its change since the previous edition (None: n/a)."""

    indicator_id: str | None  # None when the name is not a printed index indicator
    name: str
    score: Decimal
    change: Decimal | None
    line_no: int  # of the score line, 1-based
    definition: str = field(default="", compare=False)
    name_line_no: int = field(default=0, compare=False)
    score_text: str = field(default="", compare=False)  # the score line as printed, for evidence

    @property
    def evidence(self) -> str:
        return f"{self.name} / {self.score_text or format_score_line(self.score, self.change)} (line {self.line_no})"


@dataclass(frozen=True)
class ProfileBlock:
    """One country's score block, the narrative that follows it and the country that narrative names."""

    country: str | None
    edition: int
    scores: tuple[ProfileScore, ...]
    narrative: tuple[str, ...] = field(default=(), compare=False)
    line_no: int = 0  # of the block's first name line
    unread: frozenset[str] = field(default=frozenset(), compare=False)  # printed, but the score did not parse

    def by_id(self) -> dict[str, ProfileScore]:
        """Scores by indicator id; the first one wins when an indicator is printed twice."""
        found: dict[str, ProfileScore] = {}
        for s in self.scores:
            if s.indicator_id is not None:
                found.setdefault(s.indicator_id, s)
        return found


@dataclass
class _Draft:
    """A block while it is being read."""

    line_no: int
    scores: list[ProfileScore] = field(default_factory=list)
    narrative: list[str] = field(default_factory=list)
    unread: set[str] = field(default_factory=set)
    first_id: str | None = None


def extract_oci_profile(
    text: str,
    *,
    source_id: str,
    edition: int,
    previous_edition: int | None,
    countries: list[str] | None,
    catalog: Catalog,
) -> Extract:
    """Observations for every country block: printed scores, previous-edition scores, computed pillars."""
    blocks, problems = parse_oci_profile(text, edition=edition, catalog=catalog)
    for block in blocks:
        problems += check_profile_block(block, catalog)
    geos, country_problems = attribute_countries(blocks, countries)
    problems += country_problems
    rows: list[dict] = []
    for block, geo in zip(blocks, geos):
        if geo is not None:
            rows += profile_rows(
                block, geo=geo, source_id=source_id, previous_edition=previous_edition, catalog=catalog
            )
    return Extract(pl.DataFrame(rows, schema=EXTRACT_SCHEMA) if rows else pl.DataFrame(schema=EXTRACT_SCHEMA), problems)


def parse_oci_profile(text: str, *, edition: int, catalog: Catalog) -> tuple[list[ProfileBlock], list[Problem]]:
    """Score blocks and their narratives, plus problems for score lines that do not parse and unknown names."""
    lines = [(n, line.strip()) for n, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line]  # blank lines carry nothing in this format
    drafts: list[_Draft] = []
    problems: list[Problem] = []
    current: _Draft | None = None
    in_prose = True  # before the first block, and after any narrative line
    in_website_text = False
    j = 0
    while j < len(lines):
        n, line = lines[j]
        if not _starts_triple(lines, j, catalog, in_block=not in_prose):
            if line.startswith(WEBSITE_TEXT_STARTS):
                in_website_text = True
            if current is not None and not in_website_text:
                current.narrative.append(line)
            in_prose = True
            j += 1
            continue
        indicator = _printed_indicator(line, catalog)
        restarts = current is not None and indicator is not None and indicator.id == current.first_id
        if in_prose or restarts or current is None:
            current = _Draft(line_no=n)
            drafts.append(current)
            in_prose = in_website_text = False
        definition_missing = _starts_triple(lines, j + 2, catalog, in_block=True) and not _starts_triple(
            lines, j + 1, catalog, in_block=True
        )
        width = 2 if definition_missing else 3
        score, problem = _read_triple(lines[j : j + width], indicator, catalog)
        if problem is not None:
            problems.append(problem)
            if score is None and indicator is not None:
                current.unread.add(indicator.id)
        if score is not None:
            current.scores.append(score)
            if current.first_id is None:
                current.first_id = score.indicator_id
        j += width
    blocks = [
        ProfileBlock(
            country=main_country("\n".join(d.narrative)),
            edition=edition,
            scores=tuple(d.scores),
            narrative=tuple(d.narrative),
            line_no=d.line_no,
            unread=frozenset(d.unread),
        )
        for d in drafts
    ]
    return blocks, problems


def _printed_indicator(name: str, catalog: Catalog) -> Indicator | None:
    found = catalog.by_name(name, prefix=PREFIX)
    return found if found is not None and not found.computed else None


def _starts_triple(lines: list[tuple[int, str]], j: int, catalog: Catalog, *, in_block: bool) -> bool:
    """Whether line j opens an indicator: any name followed by a score-like line, or inside a block a known name.

    Outside a block a known name alone is not enough: narratives use the indicator names as headings.
    """
    if j >= len(lines):
        return False
    if j + 1 < len(lines) and SCORE_LIKE.match(lines[j + 1][1]) is not None:
        return True
    return in_block and catalog.by_name(lines[j][1], prefix=PREFIX) is not None


def _read_triple(
    triple: list[tuple[int, str]], indicator: Indicator | None, catalog: Catalog
) -> tuple[ProfileScore | None, Problem | None]:
    """The score of one name/score/definition triple, or the problem that stops it being read."""
    name_no, name = triple[0]
    if len(triple) < 2:
        return None, Problem("unparseable_score", f"no score line after {name!r}", name, name_no)
    score_no, score_text = triple[1]
    raw = f"{name}\n{score_text}"
    parsed = parse_score_line(score_text)
    if parsed is None:
        return None, Problem(
            "unparseable_score",
            f"score line {score_text!r} after {name!r} is not a score and change such as '5.330.10' or '5.50 n/a'",
            raw,
            score_no,
        )
    score, change = parsed
    definition = triple[2][1] if len(triple) > 2 else ""
    entry = ProfileScore(
        indicator.id if indicator else None, name, score, change, score_no, definition, name_no, score_text
    )
    if indicator is None:
        known = catalog.by_name(name, prefix=PREFIX)
        why = (
            f"{known.id} is computed from its components, never printed"
            if known is not None
            else "not a printed index indicator in schemas/indicators.toml; add an alias if it was renamed"
        )
        return entry, Problem("unknown_indicator", f"{name!r}: {why}", raw, name_no)
    return entry, None


def parse_score_line(text: str) -> tuple[Decimal, Decimal | None] | None:
    """Score and change from a line like '5.330.10', '2.00-0.50' or '5.50 n/a'; None if it does not parse."""
    m = SCORE_LINE.match(text.strip())
    if m is None:
        return None
    change_text = m.group("change")
    if change_text.lower() == "n/a":
        return Decimal(m.group("score")), None
    return Decimal(m.group("score")), Decimal(re.sub(f"[{_MINUS}]", "-", change_text))


def format_score_line(score: Decimal, change: Decimal | None) -> str:
    """The score line as the index prints it: '5.330.10', '2.00-0.50', '5.50n/a'."""
    return f"{score.quantize(CENT)}{'n/a' if change is None else change.quantize(CENT)}"


def check_profile_block(block: ProfileBlock, catalog: Catalog) -> list[Problem]:
    """Range, duplicate, completeness and aggregate-consistency problems of one parsed block."""
    problems: list[Problem] = []
    clean: dict[str, ProfileScore] = {}
    doubtful: set[str] = set()  # printed twice or out of range: aggregates over them prove nothing
    seen: dict[str, ProfileScore] = {}
    for s in block.scores:
        if s.indicator_id is None:
            continue
        ind = catalog[s.indicator_id]
        raw = f"{s.name}\n{s.score_text}"
        if s.indicator_id in seen:
            first = seen[s.indicator_id]
            problems.append(
                Problem(
                    "duplicate_indicator",
                    f"{s.indicator_id} printed again (first at line {first.name_line_no})",
                    raw,
                    s.name_line_no,
                )
            )
            doubtful.add(s.indicator_id)
            continue
        seen[s.indicator_id] = s
        if not ind.min <= s.score <= ind.max:
            problems.append(
                Problem(
                    "score_out_of_range",
                    f"{s.indicator_id} score {s.score} outside {ind.min:g}-{ind.max:g}",
                    raw,
                    s.line_no,
                )
            )
            doubtful.add(s.indicator_id)
        elif s.change is not None and not ind.min <= s.score - s.change <= ind.max:
            problems.append(
                Problem(
                    "score_out_of_range",
                    f"{s.indicator_id} previous score {s.score} - {s.change} = {s.score - s.change} "
                    f"outside {ind.min:g}-{ind.max:g}",
                    raw,
                    s.line_no,
                )
            )
            doubtful.add(s.indicator_id)
        clean[s.indicator_id] = s
    problems += _missing_indicators(block, seen, catalog)
    for agg in printed_indicators(catalog):
        if agg.aggregate_of:
            problems += _aggregate_problems(agg, catalog.components(agg), clean, doubtful)
    return problems


def printed_indicators(catalog: Catalog) -> list[Indicator]:
    """The index indicators a profile prints, in catalog order (the computed pillars are not printed)."""
    return [i for i in catalog.with_prefix(PREFIX) if not i.computed]


def _missing_indicators(block: ProfileBlock, seen: dict[str, ProfileScore], catalog: Catalog) -> list[Problem]:
    """One problem per printed indicator absent from the block, at the line where it should have been."""
    problems = []
    previous: ProfileScore | None = None
    for ind in printed_indicators(catalog):
        if ind.id in seen:
            previous = seen[ind.id]
            continue
        if ind.id in block.unread:
            continue  # its line is there and already reported as unparseable
        # The line after the previous indicator's definition: where a truncated block stops.
        where = previous.line_no + (2 if previous.definition else 1) if previous else block.line_no
        after = f"after {previous.name!r}" if previous else "at the start of the block"
        problems.append(
            Problem(
                "missing_indicator",
                f"{ind.id} ({ind.name}) missing from the block starting at line {block.line_no}, "
                f"expected {after}; was the profile text cut or edited?",
                ind.name,
                where,
            )
        )
    return problems


def _aggregate_problems(
    agg: Indicator, components: list[Indicator], scores: dict[str, ProfileScore], doubtful: set[str]
) -> list[Problem]:
    """Whether a printed aggregate, and its change, agree with the mean of its printed components."""
    ids = [c.id for c in components]
    if agg.id not in scores or agg.id in doubtful or any(i not in scores or i in doubtful for i in ids):
        return []  # the missing or refused line is already a problem of its own
    a = scores[agg.id]
    raw = f"{a.name}\n{a.score_text}"
    problems = []
    mean = sum((scores[i].score for i in ids), Decimal(0)) / len(ids)
    if abs(a.score - mean) > TOLERANCE:
        problems.append(
            Problem(
                "aggregate_mismatch",
                f"{agg.id} printed {a.score} but the mean of its {len(ids)} components is {mean:.4f}",
                raw,
                a.line_no,
            )
        )
    changes = [c for c in (scores[i].change for i in ids) if c is not None]
    if a.change is not None and len(changes) == len(ids):
        mean_change = sum(changes, Decimal(0)) / len(changes)
        if abs(a.change - mean_change) > TOLERANCE:
            problems.append(
                Problem(
                    "aggregate_change_mismatch",
                    f"{agg.id} change {a.change:+} but the mean of its {len(ids)} components' "
                    f"changes is {mean_change:+.4f}",
                    raw,
                    a.line_no,
                )
            )
    return problems


def attribute_countries(
    blocks: Sequence[ProfileBlock], countries: list[str] | None
) -> tuple[list[str | None], list[Problem]]:
    """Each block's ISO code (given, else detected from its narrative), with problems where they disagree."""
    problems: list[Problem] = []
    if not blocks:
        problems.append(
            Problem(
                "no_score_blocks",
                "no Global Organized Crime Index score block found; is this an oci_profile document?",
                "",
            )
        )
        return [], problems
    if countries is not None and len(countries) != len(blocks):
        problems.append(
            Problem(
                "block_count_mismatch",
                f"{len(blocks)} score blocks (at lines {', '.join(str(b.line_no) for b in blocks)}) but "
                f"{len(countries)} countries given ({', '.join(countries)}); fix `countries` in the sidecar",
                ", ".join(countries),
            )
        )
    geos: list[str | None] = []
    for k, block in enumerate(blocks):
        given = countries[k].strip().upper() if countries is not None and k < len(countries) else None
        summary = _mention_summary(block)
        if block.country is None:
            problems.append(
                Problem(
                    "country_unknown",
                    f"block {k + 1} (line {block.line_no}): the text after it names no single country ({summary})"
                    + (f"; expected {given}" if given else "; give `countries` in the sidecar"),
                    summary,
                    block.line_no,
                )
            )
        elif given is not None and given != block.country:
            problems.append(
                Problem(
                    "country_mismatch",
                    f"block {k + 1} (line {block.line_no}): its narrative is about {block.country} ({summary}) "
                    f"but `countries` says {given}; check the order of `countries` in the sidecar",
                    summary,
                    block.line_no,
                )
            )
        geos.append(given or block.country)
    return geos, problems


def _mention_summary(block: ProfileBlock) -> str:
    counts = country_mentions("\n".join(block.narrative)).most_common(3)
    if not block.narrative:
        return "no narrative"
    return "mentions: " + (", ".join(f"{c} {n}" for c, n in counts) if counts else "none")


def profile_rows(
    block: ProfileBlock, *, geo: str, source_id: str, previous_edition: int | None, catalog: Catalog
) -> list[dict]:
    """Canonical rows of one block: parsed scores, derived previous scores, computed pillars for both editions.

    Unknown, repeated and out-of-range lines give no row; their problems refuse the document anyway.
    """
    rows: list[dict] = []
    edition_values: dict[str, Decimal] = {}
    previous_values: dict[str, Decimal] = {}
    seen: set[str] = set()
    for s in block.scores:
        if s.indicator_id is None or s.indicator_id in seen:
            continue
        seen.add(s.indicator_id)
        ind = catalog[s.indicator_id]
        if not ind.min <= s.score <= ind.max:
            continue
        unit = ind.unit
        raw = f"{s.name}\n{s.score_text}"
        edition_values[s.indicator_id] = s.score
        rows.append(
            _row(s.indicator_id, geo, block.edition, s.score, unit, source_id, "parsed", s.evidence, s.line_no, raw)
        )
        previous = None if s.change is None else s.score - s.change
        if previous is not None and previous_edition is not None and ind.min <= previous <= ind.max:
            previous_values[s.indicator_id] = previous
            evidence = (
                f"derived: {block.edition} score {s.score} minus change {s.change:+} "
                f'(line {s.line_no} "{s.score_text}")'
            )
            rows.append(
                _row(
                    s.indicator_id,
                    geo,
                    previous_edition,
                    previous,
                    unit,
                    source_id,
                    "derived",
                    evidence,
                    s.line_no,
                    raw,
                )
            )
    for pillar in (i for i in catalog.with_prefix(PREFIX) if i.computed and i.aggregate_of):
        inputs = [c.id for c in catalog.components(pillar)]
        for year, values, note in (
            (block.edition, edition_values, ""),
            (previous_edition, previous_values, f", each input derived as its {block.edition} score minus change"),
        ):
            if year is None or not inputs or any(i not in values for i in inputs):
                continue
            value, evidence = mean_half_up([exact_input(catalog, i, values) for i in inputs], year, note)
            rows.append(
                _row(pillar.id, geo, year, value, pillar.unit, source_id, "computed", evidence, block.line_no, evidence)
            )
    return rows


def exact_input(catalog: Catalog, indicator_id: str, values: dict[str, Decimal]) -> tuple[str, Decimal]:
    """An input of a computed pillar as the index takes it: an aggregate as the unrounded mean of its
    components (criminal markets 2023 = 77.50 / 15 = 5.1667, not its printed 5.17), else its score."""
    indicator = catalog[indicator_id]
    parts = [c.id for c in catalog.components(indicator)] if indicator.aggregate_of else []
    if parts and all(p in values for p in parts):
        return indicator_id, sum((values[p] for p in parts), Decimal(0)) / len(parts)
    return indicator_id, values[indicator_id]


def mean_half_up(inputs: list[tuple[str, Decimal]], year: int, note: str = "") -> tuple[Decimal, str]:
    """The mean of the inputs rounded half-up to two decimals (only once, at the end), and evidence naming
    every input; an input that is itself an unrounded mean is shown to four decimals."""
    total = sum((v for _, v in inputs), Decimal(0))
    mean = total / len(inputs)
    rounded = mean.quantize(CENT, rounding=ROUND_HALF_UP)
    listed = ", ".join(f"{i} {v if v == v.quantize(CENT) else f'{v:.4f} (mean of its components)'}" for i, v in inputs)
    evidence = (
        f"computed: mean of {len(inputs)} inputs for {year}{note} "
        f"(sum {total if total == total.quantize(CENT) else f'{total:.4f}'} / {len(inputs)} = {mean:.4f}, "
        f"half-up {rounded}): {listed}"
    )
    return rounded, evidence


def _row(
    indicator_id: str,
    geo: str,
    year: int,
    value: Decimal,
    unit: str,
    source_id: str,
    method: str,
    evidence: str,
    line_no: int,
    raw: str,
) -> dict:
    return {
        "indicator_id": indicator_id,
        "geo": geo,
        "period_start": dt.date(year, 1, 1),
        "period_end": dt.date(year, 12, 31),
        "year": year,
        "value": float(value),
        "unit": unit,
        "qualifier": "exact",
        "is_partial": False,
        "as_of": None,
        "source_id": source_id,
        "method": method,
        "evidence": evidence,
        "note": None,
        "_line_no": line_no,
        "_raw": raw,
    }


def render_oci_profile(blocks: Iterable[ProfileBlock]) -> str:
    """Blocks back in the profile text format, narratives included, so parse -> render -> parse holds."""
    out: list[str] = []
    for block in blocks:
        for s in block.scores:
            out += [s.name, format_score_line(s.score, s.change)]
            if s.definition:
                out.append(s.definition)
        out += block.narrative
    return "\n".join(out) + "\n"
