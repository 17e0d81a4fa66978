"""The canonical observation: the one contract every source ends in before it is loaded.

The warehouse table `observation_history` holds these columns plus its bookkeeping
(`pipeline`, `run_id`, `valid_from`, `valid_to`); a test keeps the two in step.
Ranges per indicator come from `indicators.toml` and are checked by the engine against it.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

QUALIFIERS = ["exact", "approx", "lower_bound", "upper_bound"]
METHODS = ["parsed", "derived", "computed", "curated"]

#: The natural key: one current value per indicator, place, period and source.
NATURAL_KEY = ["indicator_id", "geo", "period_start", "period_end", "source_id"]


class Observation(pa.DataFrameModel):
    """One value of one indicator, for one place and period, as one source states it."""

    # Curated ids (`homicide_rate_per_100k`, `oci.criminality`) and publishers' native ids, which keep the
    # publisher's codes: `estat.crim_off_cat.a.iccs0601.p_hthab`, `estat.ds-059358.a.20143430.expval`.
    indicator_id: str = pa.Field(str_matches=r"^[a-z][a-z0-9_]*(\.[a-z0-9_][a-z0-9_\-]*)*$")
    # ISO 3166-1 alpha-2, ISO 3166-2, UN/LOCODE (5 characters), a group of ports that reports as one
    # (their UN/LOCODEs joined by "+", e.g. BEANR+BEZEE for the port of Antwerp-Bruges), EU, a Eurostat
    # aggregate as published (EU27_2020, EA20) or a CBS region (NL-GM0363, NL-PV23).
    geo: str = pa.Field(
        str_matches=r"^([A-Z]{2}|[A-Z]{2}-[A-Z0-9]{1,10}|[A-Z]{2}[A-Z2-9]{3}(\+[A-Z]{2}[A-Z2-9]{3})*"
        r"|EU|(EU|EA)[0-9]{2}(_[0-9]{4})?)$"
    )
    # Null when the source does not say which period (the value is kept, never compared).
    period_start: Optional[dt.date] = pa.Field(nullable=True)
    period_end: Optional[dt.date] = pa.Field(nullable=True)
    year: Optional[pl.Int32] = pa.Field(nullable=True, ge=1900, le=2100)
    value: pl.Float64 = pa.Field(nullable=False)
    unit: str
    qualifier: str = pa.Field(isin=QUALIFIERS)
    is_partial: bool
    as_of: Optional[dt.date] = pa.Field(nullable=True)
    source_id: str = pa.Field(str_length={"min_value": 1})
    method: str = pa.Field(isin=METHODS)
    evidence: str = pa.Field(str_length={"min_value": 1})
    note: Optional[str] = pa.Field(nullable=True)
    # The publisher's observation flags as published (p provisional, e estimated, b break in series,
    # c confidential, combinations such as bp); null when none, and for sources that have none.
    flags: Optional[str] = pa.Field(nullable=True, str_matches=r"^[a-z]+$")

    class Config:
        strict = "filter"
        coerce = True
        unique = NATURAL_KEY

    @pa.dataframe_check(error="period_end before period_start")
    def period_ordered(cls, data) -> pl.LazyFrame:
        lf = data.lazyframe
        return lf.select(
            pl.col("period_start").is_null()
            | pl.col("period_end").is_null()
            | (pl.col("period_end") >= pl.col("period_start"))
        )

    @pa.dataframe_check(error="a port group lists its UN/LOCODEs once each, in alphabetical order")
    def port_group_canonical(cls, data) -> pl.LazyFrame:
        # One spelling per group, so BEZEE+BEANR can never become a second series beside BEANR+BEZEE.
        # Judged once per distinct group: splitting and sorting every cell of ten million rows costs seconds.
        geo = pl.col("geo")
        parts = geo.str.split("+")
        groups = data.lazyframe.filter(geo.str.contains("+", literal=True)).select(geo.unique())
        misspelt = groups.filter(~((parts == parts.list.sort()) & (parts.list.n_unique() == parts.list.len())))
        misspelt_groups = misspelt.collect().to_series()
        if misspelt_groups.is_empty():
            return True  # the check holds for the whole frame: no row to look up
        return data.lazyframe.select(~geo.is_in(misspelt_groups.implode()))

    @pa.dataframe_check(error="year is not the year of period_end")
    def year_matches_period(cls, data) -> pl.LazyFrame:
        lf = data.lazyframe
        return lf.select(
            pl.col("period_end").is_null()
            | pl.col("year").is_null()
            | (pl.col("period_end").dt.year() == pl.col("year"))
        )
