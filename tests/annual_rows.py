"""Many annual values in the columns the writer takes (see `upsert_observations`), made from a row number, for tests
of large warehouses."""

from __future__ import annotations

import polars as pl


def annual_rows(
    rows: int, *, first_year: int, years: int, indicator_id: pl.Expr, geo: pl.Expr, value: pl.Expr
) -> pl.DataFrame:
    """`rows` whole-year counts of the source `stats`, row n of the year first_year + n % years; the expressions for
    the indicator, the geo and the value may read the row number `n`."""
    n = pl.int_range(rows, eager=True)
    return pl.DataFrame({"n": n, "year": first_year + n % years}).select(
        indicator_id=indicator_id,
        geo=geo,
        period_start=pl.date(pl.col("year"), 1, 1),
        period_end=pl.date(pl.col("year"), 12, 31),
        year=pl.col("year").cast(pl.Int32),
        value=value.cast(pl.Float64),
        unit=pl.lit("count"),
        qualifier=pl.lit("exact"),
        is_partial=pl.lit(False),
        as_of=pl.lit(None, pl.Date),
        source_id=pl.lit("stats"),
        method=pl.lit("parsed"),
        evidence=pl.lit("stats table"),
        note=pl.lit(None, pl.String),
    )
