"""Many annual values in the columns the writer takes (see `upsert_observations`), made from a row number, and the
first load of them into a new warehouse, for tests of large warehouses."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import polars as pl

from octracker.store.history import upsert_observations
from octracker.store.warehouse import apply_migrations, apply_views, sync_alert_places, sync_indicators


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


def place_series(places: int, years: int, *, geo_prefix: str) -> pl.DataFrame:
    """`places` series of `years` whole-year counts of the catalog's `shootings` from 2021, one per place named
    `geo_prefix` and its number; the values rise and fall from one place to the next, so that most series have a change
    from the year before and some a record."""
    return annual_rows(
        places * years,
        first_year=2021,
        years=years,
        indicator_id=pl.lit("shootings"),
        geo=pl.format(f"{geo_prefix}{{}}", pl.col("n") // years),
        value=100 + (pl.col("n") * 7919) % 13,
    )


def load_into_new_warehouse(con, settings, catalog, frame: pl.DataFrame, *, places: tuple[str, ...] = ()) -> Callable:
    """Make the writer `con`'s warehouse current (migrations, views, the catalog; the alert places `places` when
    given) and return the first load of `frame` as the source `stats`, to be run (inside a transaction or not)."""
    apply_migrations(con, settings.migrations_dir)
    apply_views(con, settings.views_dir)
    sync_indicators(con, catalog)
    if places:
        sync_alert_places(con, places)
    return functools.partial(
        upsert_observations,
        con,
        frame,
        pipeline="stats",
        run_id="r1",
        source_ids=["stats"],
        full_snapshot=True,
        now=dt.datetime(2026, 1, 1, 12, 0),
    )
