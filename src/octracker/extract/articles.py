"""Figures read from articles: the ones a pipeline spec declares, and proposals for unseen articles.

A declared figure names the sentence it is read from and the number as written there; the extractor finds
both in the document, so an edited document is caught instead of silently loading a stale value.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping

import polars as pl

from octracker.content.catalog import Catalog, Indicator
from octracker.extract.candidates import Candidate, propose_candidates
from octracker.extract.numbers import first_number, qualifier_before
from octracker.extract.sentences import Sentence, find_sentence, normalise, split_sentences
from octracker.extracts import EXTRACT_SCHEMA, Extract, Problem
from octracker.periods import parse_period

__all__ = ["FIGURE_KEYS", "FRAME_SCHEMA", "Candidate", "extract_declared_figures", "parse_period", "propose_candidates"]

#: Keys of one declared figure (`[[figure]]` in a pipeline spec); the first five are required.
FIGURE_KEYS = ("indicator", "geo", "period", "sentence", "value", "qualifier", "partial", "as_of", "unit", "note")
REQUIRED_KEYS = FIGURE_KEYS[:5]
QUALIFIERS = ("exact", "approx", "lower_bound", "upper_bound")

#: The canonical observation columns, then the two that point quarantine at the source. An article has no
#: publisher's observation flags.
FRAME_SCHEMA = {k: v for k, v in EXTRACT_SCHEMA.items() if k != "flags"}


class _Refused(Exception):
    """One declared figure cannot be read; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def extract_declared_figures(
    text: str,
    *,
    figures: Iterable[Mapping],
    source_id: str,
    catalog: Catalog,
    document_name: str,
) -> Extract:
    """One canonical row per declared figure, read from its sentence in the document; problems for the rest."""
    # Load inputs.
    sentences = split_sentences(text)
    # Process data.
    rows: list[dict] = []
    problems: list[Problem] = []
    declared: set[tuple[str, str, str]] = set()
    for figure in figures:
        reader = _FigureReader(figure, document_name)
        try:
            row = reader.row(text, sentences, source_id, catalog)
            key = (row["indicator_id"], row["geo"], str(figure["period"]))
            if key in declared:
                raise reader.refuse("duplicate_figure", "declared twice for this document; keep one", row["_line_no"])
            declared.add(key)
            rows.append(row)
        except _Refused as refused:
            problems.append(refused.problem)
    # Save outputs.
    return Extract(pl.DataFrame(rows, schema=FRAME_SCHEMA), problems)


class _FigureReader:
    """Reads one declared figure from its document, step by step; each step refuses with a named check."""

    def __init__(self, figure: Mapping, document: str) -> None:
        self.figure = figure
        self.document = document
        self.label = f"figure {figure.get('indicator', '?')} {figure.get('geo', '?')} {figure.get('period', '?')}"
        self.payload = json.dumps(dict(figure), default=str, ensure_ascii=False)

    def refuse(self, check: str, message: str, line_no: int | None = None) -> _Refused:
        return _Refused(Problem(check, f"{self.label}: {message}", self.payload, line_no))

    def row(self, text: str, sentences: list[Sentence], source_id: str, catalog: Catalog) -> dict:
        """The canonical row for the figure, or `_Refused` naming what is wrong and what to do."""
        self.check_keys()
        indicator = self.indicator(catalog)
        start, end, year = self.period()
        evidence, line_no = self.sentence(text, sentences)
        value, qualifier = self.value(evidence, line_no)
        partial, as_of = self.partial(start, end, line_no)
        if as_of is not None and end is not None:
            end, year = as_of, as_of.year  # a partial period ends on the day it was counted to
        note = self.figure.get("note")
        return {
            "indicator_id": indicator.id,
            "geo": str(self.figure["geo"]),
            "period_start": start,
            "period_end": end,
            "year": year,
            "value": value,
            "unit": str(self.figure.get("unit", indicator.unit)),
            "qualifier": qualifier,
            "is_partial": partial,
            "as_of": as_of,
            "source_id": source_id,
            "method": "parsed",
            "evidence": evidence,
            "note": None if note is None else str(note),
            "_line_no": line_no,
            "_raw": evidence,
        }

    def check_keys(self) -> None:
        missing = [k for k in REQUIRED_KEYS if k not in self.figure]
        unknown = sorted(set(self.figure) - set(FIGURE_KEYS))
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown key(s) {', '.join(unknown)}")
        if parts:
            raise self.refuse("bad_declaration", f"{'; '.join(parts)}; a figure has keys {', '.join(FIGURE_KEYS)}")

    def indicator(self, catalog: Catalog) -> Indicator:
        if self.figure["indicator"] not in catalog:
            raise self.refuse(
                "unknown_indicator",
                f"{catalog.unknown(self.figure['indicator'])} (fix the spelling or add it to schemas/indicators.toml)",
            )
        return catalog[self.figure["indicator"]]

    def period(self) -> tuple[dt.date | None, dt.date | None, int | None]:
        try:
            return parse_period(self.figure["period"])
        except ValueError as exc:
            raise self.refuse("bad_period", str(exc)) from None

    def sentence(self, text: str, sentences: list[Sentence]) -> tuple[str, int]:
        """The document's exact text of the declared sentence, and the line it starts on."""
        span = find_sentence(text, sentences, str(self.figure["sentence"]))
        if span is None:
            raise self.refuse(
                "sentence_not_found",
                f"the declared sentence is not in {self.document}; the "
                "document may have changed: check the figure against it and "
                "update the spec",
            )
        return text[span[0] : span[1]], text.count("\n", 0, span[0]) + 1

    def value(self, evidence: str, line_no: int) -> tuple[float, str]:
        """The number the value text gives, found as written in the sentence, and its qualifier."""
        value_text = normalise(str(self.figure["value"]))
        sentence = normalise(evidence)
        found = re.search(rf"(?<!\w)(?<!\d[.,]){re.escape(value_text)}(?!\w)(?![.,]\d)", sentence, re.IGNORECASE)
        if not value_text or found is None:
            raise self.refuse(
                "value_not_found",
                f"value {self.figure['value']!r} is not written in its sentence in "
                f"{self.document}; copy the number as the sentence writes it",
                line_no,
            )
        number = first_number(value_text)
        if number is None:
            raise self.refuse("bad_value", f"value {self.figure['value']!r} holds no number", line_no)
        # The wording before the number decides, whether it is in the value text or just before it.
        wording = qualifier_before(sentence[: found.start()] + value_text[: number.start])
        qualifier = self.figure.get("qualifier", wording)
        if qualifier not in QUALIFIERS:
            raise self.refuse(
                "bad_declaration", f"qualifier {qualifier!r} is not one of {', '.join(QUALIFIERS)}", line_no
            )
        if qualifier != wording:
            raise self.refuse(
                "qualifier_mismatch",
                f"qualifier {qualifier!r} disagrees with the wording "
                f"{found.group()!r}, which reads as {wording!r}; drop the "
                "qualifier or correct it",
                line_no,
            )
        return number.value, qualifier

    def partial(self, start: dt.date | None, end: dt.date | None, line_no: int) -> tuple[bool, dt.date | None]:
        """Whether the period is partial, and the date it was counted to (None when the source does not say)."""
        partial = self.figure.get("partial", False)
        if not isinstance(partial, bool):
            raise self.refuse("bad_declaration", f"partial must be true or false, not {partial!r}", line_no)
        try:
            as_of = _as_date(self.figure.get("as_of"))
        except ValueError:
            raise self.refuse(
                "bad_declaration", f"as_of {self.figure['as_of']!r} is not a date (YYYY-MM-DD)", line_no
            ) from None
        if as_of is not None and not partial:
            raise self.refuse(
                "bad_declaration", "as_of is only for a partial period; add partial = true or drop as_of", line_no
            )
        if as_of is not None and start is not None and end is not None and not start <= as_of <= end:
            raise self.refuse(
                "bad_declaration", f"as_of {as_of} is outside the period {self.figure['period']}", line_no
            )
        return partial, as_of


def _as_date(value: object) -> dt.date | None:
    """A TOML date, datetime or `YYYY-MM-DD` string as a date; None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise ValueError(value)
