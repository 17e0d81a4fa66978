"""The revision, outlier and staleness rules (schemas/alert_rules.toml) on values loaded through the inbox."""

from __future__ import annotations

import datetime as dt

import pytest

from octracker.load.pipeline import refresh
from octracker.store.warehouse import open_writer

MONTHLY = """
[[indicator]]
id = "test_monthly_seizures"
name = "Monthly seizures (test)"
unit = "count"
direction = "up_is_bad"
frequency = "monthly"
min = 0
max = 100000
description = "A monthly count, for the staleness and outlier rules."
"""
HEADER = "indicator,geo,period,value,unit,qualifier,as_of,source_url,note\n"


@pytest.fixture
def project(scratch_project):
    with open(scratch_project.schemas_dir / "indicators.toml", "a", encoding="utf-8") as catalog:
        catalog.write(MONTHLY)
    return scratch_project


def drop(settings, name: str, rows: list[str], published: str) -> None:
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / name).write_text(HEADER + "\n".join(rows) + "\n")
    (settings.inbox_dir / f"{name}.meta.toml").write_text(
        f'title = "Police figures (test)"\npublisher = "Police (test)"\npublished = "{published}"\n'
    )
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error


def month(m: int, value: float, year: int = 2024) -> str:
    end = (dt.date(year, m, 28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return f"test_monthly_seizures,BE,{year}-{m:02d}-01/{end},{value:g},count,exact,,,"


def alerts_on(settings, today: dt.date, rule: str) -> list[tuple]:
    """(severity, indicator_id, message) of the rule's alerts, judged on `today` (the alert clock pinned)."""
    with open_writer(settings) as con:
        con.execute(f"CREATE OR REPLACE TEMP VIEW alert_clock AS SELECT DATE '{today}' AS today")
        return con.execute(
            "SELECT severity, indicator_id, message FROM trend_alerts WHERE rule = ? ORDER BY indicator_id", [rule]
        ).fetchall()


def test_a_monthly_series_two_weeks_late_is_not_stale_and_an_annual_one_six_months_late_is(project):
    drop(
        project,
        "police.csv",
        [month(m, 40 + m) for m in range(1, 7)]
        + ["shootings,BE-BRU,2023,61,count,exact,,,", "shootings,BE-BRU,2024,92,count,exact,,,"],
        "2025-01-20",
    )
    # June's figures were due with July's by the end of July: two weeks later is within the grace.
    assert [a[1] for a in alerts_on(project, dt.date(2024, 8, 14), "stale_series")] == []
    late = alerts_on(project, dt.date(2024, 9, 11), "stale_series")
    assert [a[1] for a in late] == ["test_monthly_seizures"]
    assert "this monthly series should have had a newer value by 2024-08-30" in late[0][2]
    # 2025's annual figure is due by the end of 2025: three months later is not stale, six months later is
    # (18 months of 30.4375 days after 31 December 2024 run out on 2 July 2026).
    assert "shootings" not in [a[1] for a in alerts_on(project, dt.date(2026, 3, 31), "stale_series")]
    assert "shootings" in [a[1] for a in alerts_on(project, dt.date(2026, 7, 2), "stale_series")]


def test_a_revision_beyond_the_threshold_cites_old_and_new_values_and_both_publication_dates(project):
    drop(
        project,
        "police.csv",
        ["shootings,BE-BRU,2023,61,count,exact,,,", "shootings,BE-BRU,2024,80,count,exact,,,"],
        "2025-03-01",
    )
    assert alerts_on(project, dt.date(2025, 3, 2), "revision") == []
    drop(
        project,
        "police.csv",
        ["shootings,BE-BRU,2023,62,count,exact,,,", "shootings,BE-BRU,2024,104,count,exact,,,"],
        "2025-09-15",
    )
    [(severity, indicator, message)] = alerts_on(project, dt.date(2025, 9, 16), "revision")
    # 61 -> 62 is +1.6 %: below the 5 % threshold. 80 -> 104 is +30 %: a warning.
    assert (severity, indicator) == ("warning", "shootings")
    assert message.startswith(
        "Shootings (BE-BRU), 2024: observations-long-police-test revised its value from 80 "
        "(published 2025-03-01) "
        "to 104 (published 2025-09-15), +30.0 %."
    )


def test_a_value_far_outside_its_series_spread_is_an_outlier_only_with_enough_history(project):
    values = [40, 42, 39, 41, 43, 40]
    drop(project, "police.csv", [month(m, v) for m, v in enumerate(values, start=1)] + [month(7, 41)], "2024-08-05")
    assert alerts_on(project, dt.date(2024, 8, 6), "outlier") == []
    drop(project, "police.csv", [month(m, v) for m, v in enumerate(values, start=1)] + [month(7, 95)], "2024-08-06")
    [(severity, indicator, message)] = alerts_on(project, dt.date(2024, 8, 7), "outlier")
    assert (severity, indicator) == ("warning", "test_monthly_seizures")
    assert (
        "95 in 2024-07-01/2024-07-31 lies far from the series' usual spread: the median of its 6 earlier "
        "values is 40.50" in message
    )
    # Four earlier values are too few to judge a spread (the rule asks for five).
    drop(project, "short.csv", [month(m, v, 2023) for m, v in enumerate([40, 42, 39, 41, 95], start=1)], "2024-08-06")
    assert [a[1] for a in alerts_on(project, dt.date(2024, 8, 7), "outlier")] == ["test_monthly_seizures"]
