"""Warehouses for the tests of what analysts and operators see: sql, status, export, report and chart.

- `refreshed` (session): the real project refreshed: index scores, the articles' declared figures (121 t
  curated to the port of Antwerp-Bruges), changes and alerts. Read, never changed: `copy_refreshed` gives a
  test a copy of its own.
- `uncurated` (session): a copy without 004's curation, so 116 t and 121 t both stand at BEANR for 2023
  and disagree, as the warehouse must show them until a curation says where 121 t belongs.
- `figures_report` (session): `octracker report` of `uncurated`, written once.
- `without_alert_views`: an editable copy without the change and alert views, like a warehouse published
  before they existed (or built without them).
- `articles_only`: an editable copy without the index profiles, for quick reports.
- `load_rows`: rows written through the engine's loader, for hostile text that no extractor would produce.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from conftest import REPO, copy_project, run_cli
from octracker.content.documents import read_document
from octracker.extracts import OBSERVATION_SCHEMA
from octracker.load.pipeline import refresh
from octracker.store.history import upsert_observations
from octracker.store.runs import finish_run, start_run, upsert_source
from octracker.store.settings import Settings, build_settings
from octracker.store.warehouse import apply_views, open_writer, publish, utc_now

NARCO = "000_34df755ec43177fe.txt"
VISIT_SPEC = "article_us_visit.toml"
#: Sentences of the bundled articles, as the article pipelines keep them for evidence.
S_SEIZED_2023 = "In 2023, 116 tons."
S_JUDGE_2025 = "In 2025 alone, over 60 shooting incidents were recorded, 20 of which occurred during the summer months."
S_VISIT = (
    "Belgium confiscated a record 121 metric tons of cocaine at the port of Antwerp in 2023, and Brussels has "
    "experienced approximately 60 drug-related shootings so far this year."
)
#: The views of changes and alerts (another workstream's), which the analyst commands must do without.
ALERT_VIEWS = (
    "40_yoy_changes.sql",
    "41_alert_clock.sql",
    "50_edition_changes.sql",
    "55_alert_findings.sql",
    "60_all_trend_alerts.sql",
    "62_trend_alerts.sql",
    "63_muted_alerts.sql",
)


def year(y: int) -> tuple[dt.date, dt.date]:
    return dt.date(y, 1, 1), dt.date(y, 12, 31)


def figure(indicator, geo, period, value, unit, evidence, qualifier="exact", partial=False, as_of=None):
    """One canonical row (without its source), as an extractor would yield it."""
    start, end = period if period else (None, None)
    return {
        "indicator_id": indicator,
        "geo": geo,
        "period_start": start,
        "period_end": end,
        "year": end.year if end else None,
        "value": float(value),
        "unit": unit,
        "qualifier": qualifier,
        "is_partial": partial,
        "as_of": as_of,
        "method": "parsed",
        "evidence": evidence,
        "note": None,
    }


def load_rows(settings: Settings, document_file: str, pipeline: str, rows: list[dict]) -> None:
    """Write rows for a bundled document's source through the engine's loader, in one run, and publish."""
    document = read_document(settings.pipelines_dir / "documents" / document_file)
    source_id = document.meta.source_id
    frame = pl.DataFrame([{**r, "source_id": source_id} for r in rows], schema=OBSERVATION_SCHEMA)
    with open_writer(settings) as con:
        run_id = start_run(con, pipeline, "test")
        con.execute("BEGIN TRANSACTION")
        upsert_source(
            con, document, source_id=source_id, kind=document.meta.kind or "article", pipeline=pipeline, precedence=30
        )
        counts = upsert_observations(
            con, frame, pipeline=pipeline, run_id=run_id, source_ids=[source_id], full_snapshot=False, now=utc_now()
        )
        finish_run(con, run_id, status="success", counts=counts)
        con.execute("COMMIT")
        apply_views(con, settings.views_dir)
        publish(con, settings)


def remove_curation(settings: Settings) -> None:
    """Drop 004's curation: its 121 t stays at BEANR, where it disagrees with 000's 116 t."""
    spec = settings.pipelines_dir / VISIT_SPEC
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text[: text.index("[[curation]]")], encoding="utf-8")


@pytest.fixture(scope="session")
def refreshed(tmp_path_factory) -> Settings:
    settings = build_settings(
        project=REPO, warehouse=tmp_path_factory.mktemp("refreshed") / "octracker.duckdb", environ={}
    )
    refresh(settings)
    return settings


def copy_refreshed(refreshed: Settings, tmp_path: Path) -> Settings:
    """Settings on a copy of the refreshed warehouse file (not its published copy), for a test to change."""
    target = tmp_path / "warehouse" / "octracker.duckdb"
    target.parent.mkdir()
    shutil.copyfile(refreshed.warehouse, target)
    return build_settings(project=REPO, warehouse=target, environ={})


@pytest.fixture(scope="session")
def uncurated(tmp_path_factory) -> Settings:
    settings = copy_project(tmp_path_factory.mktemp("uncurated"))
    remove_curation(settings)
    refresh(settings)
    return settings


@pytest.fixture(scope="session")
def figures_report(uncurated) -> tuple[Path, str]:
    """(path of the report, what `octracker report` printed)."""
    result = run_cli(uncurated, "report")
    assert result.exit_code == 0, result.output
    return uncurated.data_dir / "report" / "index.html", result.output


@pytest.fixture
def without_alert_views(scratch_project) -> Settings:
    for name in ALERT_VIEWS:
        (scratch_project.views_dir / name).unlink()
    return scratch_project


@pytest.fixture
def articles_only(scratch_project) -> Settings:
    for index in ("oci_2025_profiles.toml", "oci_workbook.toml"):
        (scratch_project.pipelines_dir / index).unlink()
    return scratch_project
