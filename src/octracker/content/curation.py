"""Curation: a spec maps a figure a source states to another geography or indicator, with a written reason.

A source may put a value in the wrong place ("121 t at the port of Antwerp" is the Antwerp-Bruges total).
The figure is still read as the source states it; a `[[curation]]` table in the pipeline spec then moves it:

    [[curation]]
    indicator = "cocaine_seized_tonnes"   # the figure as read: indicator, geo and period
    geo = "BEANR"
    period = "2023"
    to_geo = "BEANR+BEZEE"                # where it belongs (to_geo and/or to_indicator)
    reason = "121 t is the Antwerp-Bruges total …"

The curated row (`method = curated`, `note` = the reason) is what the warehouse holds as current. The row as
the source states it is kept too, marked `_superseded`, so the loader writes it to `observation_history` as a
closed version whose note carries the reason: the original claim stays visible but is never current.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from octracker.errors import SpecError
from octracker.periods import parse_period

if TYPE_CHECKING:  # polars loads only where curations are applied, so reading specs stays light
    import polars as pl

    from octracker.extracts import Extract

CURATION_KEYS = ("indicator", "geo", "period", "to_geo", "to_indicator", "reason")
#: Marks the rows as the source states them that a curation replaced (kept in history, never current).
SUPERSEDED = "_superseded"


@dataclass(frozen=True)
class Curation:
    """One figure moved to another geography and/or indicator, and why."""

    indicator: str
    geo: str
    period: str
    reason: str
    to_geo: str | None = None
    to_indicator: str | None = None

    @property
    def label(self) -> str:
        return f"curation of {self.indicator} {self.geo} {self.period}"

    @property
    def target(self) -> str:
        """Where the figure goes, as a person reads it: 'cocaine_seized_tonnes at BEANR+BEZEE'."""
        return f"{self.to_indicator or self.indicator} at {self.to_geo or self.geo}"

    def matches(self) -> pl.Expr:
        import polars as pl

        """The rows this curation applies to: the figure's indicator, geo and period as read."""
        start, end, year = parse_period(self.period)
        condition = (pl.col("indicator_id") == self.indicator) & (pl.col("geo") == self.geo)
        if start is None:
            return condition & pl.col("period_start").is_null()
        if self.period.strip().isdigit():
            # A year matches a partial period of that year too (its end is the as-of date).
            return condition & (pl.col("period_start") == start) & (pl.col("year") == year)
        return condition & (pl.col("period_start") == start) & (pl.col("period_end") == end)


def read_curations(raw: Any, where: str) -> tuple[Curation, ...]:
    """The spec's `[[curation]]` tables, checked; a bad one is refused naming the spec and the table."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(entry, Mapping) for entry in raw):
        raise SpecError(f"{where}: `curation` must be a list of [[curation]] tables")
    curations = []
    for n, entry in enumerate(raw, start=1):
        label = f"{where}: [[curation]] #{n}"
        unknown = sorted(set(entry) - set(CURATION_KEYS))
        missing = [k for k in ("indicator", "geo", "period", "reason") if k not in entry]
        if unknown or missing:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
            )
            raise SpecError(f"{label}: {'; '.join(parts)}; a curation has keys {', '.join(CURATION_KEYS)}")
        if not str(entry["reason"]).strip():
            raise SpecError(f"{label}: the reason is empty; say why the figure belongs elsewhere")
        curation = Curation(
            indicator=str(entry["indicator"]),
            geo=str(entry["geo"]),
            period=str(entry["period"]),
            reason=" ".join(str(entry["reason"]).split()),
            to_geo=_text(entry.get("to_geo")),
            to_indicator=_text(entry.get("to_indicator")),
        )
        try:
            parse_period(curation.period)
        except ValueError as exc:
            raise SpecError(f"{label}: {exc}") from None
        if (curation.to_geo or curation.geo, curation.to_indicator or curation.indicator) == (
            curation.geo,
            curation.indicator,
        ):
            raise SpecError(f"{label}: it moves nothing; set to_geo and/or to_indicator to where the figure belongs")
        curations.append(curation)
    return tuple(curations)


def _text(value: Any) -> str | None:
    return None if value is None or not str(value).strip() else str(value).strip()


def apply_curations(extract: Extract, curations: Sequence[Curation], document_name: str) -> Extract:
    """The extract with each curated figure moved, and the figure as stated kept as a superseded row.

    A curation that matches no figure (or several) is a problem: the document or its declarations changed,
    so the mapping must be checked by a person rather than silently dropped.
    """
    import polars as pl

    from octracker.extracts import Extract, Problem

    if not curations or not extract.ok:
        return extract
    frame = extract.frame.with_columns(pl.lit(False).alias(SUPERSEDED))
    problems: list[Problem] = []
    moved: list[pl.DataFrame] = []
    for curation in curations:
        matched = frame.filter(curation.matches() & ~pl.col(SUPERSEDED))
        if matched.height != 1:
            how = "matches no figure" if matched.is_empty() else f"matches {matched.height} figures"
            problems.append(
                Problem(
                    check="curation_unmatched",
                    payload=repr(curation),
                    message=f"{curation.label} {how} read from {document_name}; the document or the spec changed: "
                    "fix the curation's indicator, geo and period, or remove it",
                )
            )
            continue
        frame = frame.with_columns(
            pl.when(curation.matches()).then(pl.lit(True)).otherwise(pl.col(SUPERSEDED)).alias(SUPERSEDED),
            pl.when(curation.matches())
            .then(pl.lit(f"Curated to {curation.target}: {curation.reason}"))
            .otherwise(pl.col("note"))
            .alias("note"),
        )
        moved.append(
            matched.with_columns(
                pl.lit(curation.to_indicator or curation.indicator).alias("indicator_id"),
                pl.lit(curation.to_geo or curation.geo).alias("geo"),
                pl.lit("curated").alias("method"),
                pl.lit(curation.reason).alias("note"),
            )
        )
    if problems:
        return Extract(extract.frame, problems)
    return Extract(pl.concat([frame, *moved], how="vertical"), [])


def split_superseded(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows to hold as current, rows as stated that a curation superseded)."""
    import polars as pl

    if SUPERSEDED not in frame.columns:
        return frame, frame.clear()
    return frame.filter(~pl.col(SUPERSEDED)), frame.filter(pl.col(SUPERSEDED))
