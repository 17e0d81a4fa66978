"""A warehouse with the bundled articles' figures, for tests of what analysts see (status, export, report).

The article extractor is another workstream's; until it lands, these tests load the figures the articles
state (FACTS.md) with the engine's own loader, each with the exact sentence of its document as evidence.
They carry every trap a chart must show: an approximation, a lower bound, two partial years (one with an
as-of date, one without), two sources that disagree (116 t vs 121 t), and a value without a known year.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from octracker.catalog import load_catalog
from octracker.cli import main
from octracker.documents import read_document
from octracker.history import upsert_observations
from octracker.pipeline import refresh
from octracker.runs import finish_run, start_run, upsert_source
from octracker.settings import Settings, build_settings
from octracker.warehouse import apply_views, open_writer, publish, utc_now

REPO = Path(__file__).resolve().parents[1]
NARCO = "000_34df755ec43177fe.txt"
JUDGE = "002_1048ef5845389a1f.txt"
VISIT = "004_dfeb4534944dee1c.txt"

S_SEIZED_2021 = "In 2021, nearly 90 tons of cocaine were seized at the port."
S_SEIZED_2022 = "In 2022, that number rose to 110 tons."
S_SEIZED_2023 = "In 2023, 116 tons."
S_SEIZED_2024 = "By 2024, cocaine seizures dropped sharply to 44 tons—roughly one-third of the previous year."
S_SHOOTINGS_2024 = ("In 2024 alone, Brussels saw 92 shootings, nearly a 50% increase from the year before, "
                    "resulting in nine deaths.")
S_HOMICIDE = ("Belgium’s homicide rate in 2023 stood at 1.38 per 100,000 people—high for the EU, but far lower than "
              "the United States’ 6.8, and nowhere near Brazil’s 19 or Mexico’s 25.")
S_MURDERS = "In a country of nearly 12 million people, there were 1,461 murders and attempted murders in 2024."
S_JUDGE_2025 = "In 2025 alone, over 60 shooting incidents were recorded, 20 of which occurred during the summer months."
S_VISIT = ("Belgium confiscated a record 121 metric tons of cocaine at the port of Antwerp in 2023, and Brussels has "
           "experienced approximately 60 drug-related shootings so far this year.")


def year(y: int) -> tuple[dt.date, dt.date]:
    return dt.date(y, 1, 1), dt.date(y, 12, 31)


def figure(indicator, geo, period, value, unit, evidence, qualifier="exact", partial=False, as_of=None):
    start, end = period if period else (None, None)
    return {"indicator_id": indicator, "geo": geo, "period_start": start, "period_end": end,
            "year": end.year if end else None, "value": float(value), "unit": unit, "qualifier": qualifier,
            "is_partial": partial, "as_of": as_of, "method": "parsed", "evidence": evidence, "note": None}


#: (document, pipeline, figures) as the articles state them.
ARTICLE_FIGURES = [
    (NARCO, "article_narco_paradox", [
        figure("cocaine_seized_tonnes", "BEANR", year(2021), 90, "tonnes", S_SEIZED_2021, "approx"),
        figure("cocaine_seized_tonnes", "BEANR", year(2022), 110, "tonnes", S_SEIZED_2022),
        figure("cocaine_seized_tonnes", "BEANR", year(2023), 116, "tonnes", S_SEIZED_2023),
        figure("cocaine_seized_tonnes", "BEANR", year(2024), 44, "tonnes", S_SEIZED_2024),
        figure("shootings", "BE-BRU", year(2024), 92, "count", S_SHOOTINGS_2024),
        figure("shooting_deaths", "BE-BRU", year(2024), 9, "count", S_SHOOTINGS_2024),
        figure("homicide_rate_per_100k", "BE", year(2023), 1.38, "per 100,000 people", S_HOMICIDE),
        figure("homicide_rate_per_100k", "US", None, 6.8, "per 100,000 people", S_HOMICIDE),
        figure("murders_and_attempts", "BE", year(2024), 1461, "count", S_MURDERS),
    ]),
    (JUDGE, "article_judge_letter", [
        figure("shootings", "BE-BRU", year(2025), 60, "count", S_JUDGE_2025, "lower_bound", partial=True),
    ]),
    (VISIT, "article_us_visit", [
        figure("cocaine_seized_tonnes", "BEANR", year(2023), 121, "tonnes", S_VISIT),
        figure("shootings", "BE-BRU", (dt.date(2025, 1, 1), dt.date(2025, 9, 10)), 60, "count", S_VISIT, "approx",
               partial=True, as_of=dt.date(2025, 9, 10)),
    ]),
]

FRAME_SCHEMA = {
    "indicator_id": pl.String, "geo": pl.String, "period_start": pl.Date, "period_end": pl.Date, "year": pl.Int32,
    "value": pl.Float64, "unit": pl.String, "qualifier": pl.String, "is_partial": pl.Boolean, "as_of": pl.Date,
    "source_id": pl.String, "method": pl.String, "evidence": pl.String, "note": pl.String,
}


def load_figures(settings: Settings, figures_by_document=ARTICLE_FIGURES, *, quoted: bool = True) -> None:
    """Refresh the project, then load the figures of each document as its pipeline would, and publish.

    With `quoted`, every figure's evidence must be a sentence of its document, as the extractor ensures.
    """
    refresh(settings)
    catalog = load_catalog(settings.schemas_dir / "indicators.toml")
    with open_writer(settings) as con:
        for file_name, pipeline, rows in figures_by_document:
            document = read_document(settings.pipelines_dir / "documents" / file_name)
            source_id = document.meta.source_id
            unknown = {r["indicator_id"] for r in rows} - {i.id for i in catalog.indicators}
            assert not unknown, f"not in the catalog: {unknown}"
            assert not quoted or all(r["evidence"] in document.text for r in rows), f"{file_name}: evidence not quoted"
            frame = pl.DataFrame([{**r, "source_id": source_id} for r in rows], schema=FRAME_SCHEMA)
            run_id = start_run(con, pipeline, "test")
            con.execute("BEGIN TRANSACTION")
            upsert_source(con, document, source_id=source_id, kind=document.meta.kind or "article",
                          pipeline=pipeline, precedence=30)
            counts = upsert_observations(con, frame, pipeline=pipeline, run_id=run_id, source_ids=[source_id],
                                         full_snapshot=False, now=utc_now())
            finish_run(con, run_id, status="success", counts=counts)
            con.execute("COMMIT")
        apply_views(con, settings.views_dir)
        publish(con, settings)


def invoke(settings: Settings, *args: str, input: str | None = None):
    """Run the CLI in-process on this project and warehouse, as a user would type it."""
    return CliRunner().invoke(main, ["--project", str(settings.project), "--warehouse", str(settings.warehouse),
                                     *args], input=input)


#: A stand-in for the trend_alerts view of the alerts workstream, with the contract's columns.
TREND_ALERTS_STUB = """-- trend_alerts (test stand-in): open alerts.
-- Grain: one row per open alert.
-- Inputs: series.
CREATE OR REPLACE VIEW trend_alerts AS
SELECT 'fp-' || indicator_id || '-' || geo AS fingerprint, 'index_rise' AS rule,
       CASE WHEN geo = 'BE' THEN 'high' ELSE 'low' END AS severity, indicator_id, geo, year, value,
       value - 0.5 AS prev_value, 0.5 AS change,
       indicator_id || ' rose in ' || geo || ' <b>since</b> the last edition' AS message
FROM series
WHERE (indicator_id IN ('oci.cocaine_trade', 'oci.arms_trafficking') AND year = 2025)
   OR (indicator_id = 'cocaine_seized_tonnes' AND year = 2024);
"""


def add_trend_alerts_stub(settings: Settings) -> None:
    (settings.views_dir / "60_trend_alerts.sql").write_text(TREND_ALERTS_STUB, encoding="utf-8")


def shared_warehouse(tmp_path_factory, name: str) -> Settings:
    """The real project with a warehouse of its own that several tests read (and none change)."""
    return build_settings(project=REPO, warehouse=tmp_path_factory.mktemp(name) / "octracker.duckdb", environ={})


@pytest.fixture(scope="session")
def figures_settings(tmp_path_factory) -> Settings:
    """The real project, refreshed, with the articles' figures loaded and published."""
    settings = shared_warehouse(tmp_path_factory, "figures")
    load_figures(settings)
    return settings


@pytest.fixture(scope="session")
def figures_report(figures_settings) -> tuple[Path, str]:
    """The report of the figures warehouse, written once by `octracker report`: (path, what the command printed)."""
    result = invoke(figures_settings, "report")
    assert result.exit_code == 0, result.output
    return figures_settings.data_dir / "report" / "index.html", result.output


@pytest.fixture
def articles_only(scratch_project) -> Settings:
    """An editable project without the index profiles: the articles' figures only, so reports are quick."""
    (scratch_project.pipelines_dir / "oci_2025_profiles.toml").unlink()
    return scratch_project


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Settings:
    """The real project refreshed (index values only) into a warehouse shared by a module's tests."""
    settings = shared_warehouse(tmp_path_factory, "refreshed")
    refresh(settings)
    return settings
