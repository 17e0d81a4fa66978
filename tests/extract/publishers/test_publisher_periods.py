"""Publishers' time codes: every spelling of a period gives the same dates, and periods tile the year."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octracker.extract.publishers.codes import cbs_geo, eurostat_geo, native_id, observation_flags
from octracker.extract.publishers.periods import parse_publisher_period

years = st.integers(min_value=1900, max_value=2100)


@given(years)
def test_a_year_in_every_spelling(year: int):
    periods = {parse_publisher_period(s) for s in (f"{year}", f"{year}JJ00", f"{year}-A1")}
    assert periods == {(f"{year}", dt.date(year, 1, 1), dt.date(year, 12, 31), year)}


@given(years, st.integers(min_value=1, max_value=4))
def test_a_quarter_in_every_spelling(year: int, quarter: int):
    spellings = (f"{year}Q{quarter}", f"{year}-Q{quarter}", f"{year}KW0{quarter}")
    periods = {parse_publisher_period(s) for s in spellings}
    assert len(periods) == 1
    (period,) = periods
    assert period.code == f"{year}Q{quarter}" and parse_publisher_period(period.code) == period
    assert period.start.month == 3 * quarter - 2 and period.end.month == 3 * quarter


@given(years, st.integers(min_value=1, max_value=12))
def test_a_month_in_every_spelling(year: int, month: int):
    spellings = (f"{year}-{month:02d}", f"{year}M{month:02d}", f"{year}MM{month:02d}")
    periods = {parse_publisher_period(s) for s in spellings}
    assert len(periods) == 1
    (period,) = periods
    assert parse_publisher_period(period.code) == period and period.year == year
    assert (period.end + dt.timedelta(days=1)).day == 1


@given(years)
def test_months_and_quarters_tile_the_year(year: int):
    for kind, count in (("M", 12), ("Q", 4)):
        periods = [
            parse_publisher_period(f"{year}{kind}{n:02d}" if kind == "M" else f"{year}Q{n}")
            for n in range(1, count + 1)
        ]
        assert periods[0].start == dt.date(year, 1, 1) and periods[-1].end == dt.date(year, 12, 31)
        assert all(a.end + dt.timedelta(days=1) == b.start for a, b in zip(periods, periods[1:], strict=False))


@pytest.mark.parametrize("code", ["2023Q5", "2023-13", "2023MM00", "2023X000", "23", "2023W54", ""])
def test_codes_that_name_no_period_are_refused(code: str):
    with pytest.raises(ValueError, match="time code"):
        parse_publisher_period(code)


def test_contract_ids_for_publishers_codes():
    assert native_id("estat", "crim_off_cat", ["A", "ICCS0601", "P_HTHAB"]) == "estat.crim_off_cat.a.iccs0601.p_hthab"
    assert (
        native_id("cbs", "83599NED", ["T001081 ", "OpenstaandeVacatures_1"])
        == "cbs.83599ned.t001081.openstaandevacatures_1"
    )
    assert [eurostat_geo(g) for g in ("EL", "UK", "EU27_2020", "BE")] == ["GR", "GB", "EU27_2020", "BE"]
    assert [cbs_geo(g) for g in ("NL01  ", "GM0363", "PV23  ")] == ["NL", "NL-GM0363", "NL-PV23"]
    assert [observation_flags(s) for s in ("|C", ":C", "bp", "", None)] == ["c", "c", "bp", None, None]
    assert observation_flags("b", "p", "b") == "bp"
