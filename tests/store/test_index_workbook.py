"""The whole index from the GI-TOC workbook beside the 2025 profiles, on the bundled files: the workbook's 2023
scores against the 2023 scores the profiles derive (score minus change), and each country's rank per indicator
and edition, recomputed here from the workbook's cells."""

from __future__ import annotations

import statistics
from pathlib import Path

import duckdb
import openpyxl
import pytest

from octracker.content.catalog import load_catalog, name_key
from octracker.countries import country_code
from octracker.extract.publishers.oci_workbook import WORKBOOK_COUNTRY_NAMES
from octracker.load.pipeline import refresh

ROOT = Path(__file__).resolve().parents[2]
WORKBOOK = ROOT / "pipelines" / "documents" / "global_oc_index.xlsx"
PROFILES_SOURCE = "gitoc-oci-2025-nl-be"
#: The European Union's 27 members since 2020.
EU27 = set("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())


def workbook_scores(path: Path = WORKBOOK) -> dict[tuple[str, int, str], float]:
    """(indicator id, edition, geo) -> score, read with openpyxl and matched by the indicators' printed names."""
    catalog = load_catalog(ROOT / "schemas" / "indicators.toml")
    names = {}
    for indicator in catalog.indicators:
        if indicator.id.startswith("oci."):
            for spelling in (indicator.name, *indicator.aliases):
                names[name_key(spelling.replace(",", "."))] = indicator.id
                names[name_key(spelling.replace(",", ".").removesuffix(" avg.").removesuffix(" avg"))] = indicator.id
    scores = {}
    book = openpyxl.load_workbook(path, read_only=True)
    for sheet in book.sheetnames:
        if not sheet.endswith("_dataset"):
            continue
        edition = int(sheet[:4])
        rows = list(book[sheet].iter_rows(values_only=True))
        header = [name_key(str(h).replace(",", ".").removesuffix(" avg.").removesuffix(" avg,")) for h in rows[0]]
        country_at = header.index("country")
        for row in rows[1:]:
            if not row[country_at]:
                continue
            geo = WORKBOOK_COUNTRY_NAMES.get(row[country_at]) or country_code(row[country_at])
            for column, cell in zip(header, row):
                if column in names and isinstance(cell, int | float):
                    scores[(names[column], edition, geo)] = round(float(cell), 2)
    return scores


@pytest.fixture(scope="module")
def index_warehouse(tmp_path_factory):
    from octracker.store.settings import build_settings

    folder = tmp_path_factory.mktemp("index")
    settings = build_settings(project=ROOT, warehouse=folder / "octracker.duckdb", environ={})
    results = refresh(settings, ["oci_workbook", "oci_2025_profiles"])
    assert [r.status for r in results] == ["success", "success"], [r.error for r in results]
    con = duckdb.connect(str(settings.published_path), read_only=True)
    yield con
    con.close()


def test_the_workbooks_2023_scores_agree_with_those_the_2025_profiles_derive(index_warehouse):
    workbook_source = index_warehouse.execute("SELECT source_id FROM sources WHERE kind = 'oci_workbook'").fetchone()[0]
    pairs = index_warehouse.execute(
        "SELECT w.indicator_id, w.geo, w.value, p.value, p.method FROM observations w "
        "JOIN observations p USING (indicator_id, geo, period_start, period_end) "
        "WHERE w.source_id = ? AND p.source_id = ? ORDER BY ALL",
        [workbook_source, PROFILES_SOURCE],
    ).fetchall()
    # Every 2023 score the profiles give for Belgium and the Netherlands (34 printed, 2 computed) is in the workbook.
    derived = index_warehouse.execute(
        "SELECT COUNT(*) FROM observations WHERE source_id = ? AND year = 2023", [PROFILES_SOURCE]
    ).fetchone()[0]
    assert len(pairs) == derived == 72
    disagreeing = [(i, g) for i, g, w, p, _ in pairs if round(abs(w - p), 9) > 0.01]
    conflicts = index_warehouse.execute(
        "SELECT indicator_id, geo FROM source_conflicts WHERE year = 2023 ORDER BY ALL"
    ).fetchall()
    assert conflicts == disagreeing
    # Where both state a score, series counts two sources and uses the one the workbook publishes.
    used = index_warehouse.execute(
        "SELECT DISTINCT n_sources, source_id FROM series WHERE year = 2023 AND geo IN ('BE', 'NL') "
        "AND indicator_id LIKE 'oci.%'"
    ).fetchall()
    assert used == [(2, workbook_source)]


def test_a_2023_score_more_than_001_away_from_the_profiles_is_a_source_conflict(scratch_project, tmp_path):
    """A workbook whose Belgian 2023 cocaine score is 0.02 above the profile's derived score, and whose Dutch one is
    0.01 above: only the first is a conflict (0.01 is the index's round-off)."""
    scores = workbook_scores()
    book = openpyxl.load_workbook(WORKBOOK)
    sheet = book["2023_dataset"]
    header = [str(c.value) for c in sheet[1]]
    cocaine = header.index("Cocaine trade")
    moved = {"Belgium": 0.02, "Netherlands": 0.01}
    for row in sheet.iter_rows(min_row=2):
        if row[2].value in moved:
            row[cocaine].value = round(row[cocaine].value + moved[row[2].value], 2)
    path = tmp_path / "global_oc_index.xlsx"
    book.save(path)
    [profiles] = refresh(scratch_project, ["oci_2025_profiles"])
    assert profiles.status == "success"
    scratch_project.inbox_dir.mkdir(parents=True, exist_ok=True)
    (scratch_project.inbox_dir / path.name).write_bytes(path.read_bytes())
    [loaded] = refresh(scratch_project, ["inbox"])
    assert loaded.status == "success", loaded.error
    con = duckdb.connect(str(scratch_project.published_path), read_only=True)
    try:
        conflicts = con.execute(
            'SELECT indicator_id, geo, year, "values", source_ids FROM source_conflicts ORDER BY ALL'
        ).fetchall()
    finally:
        con.close()
    be = scores[("oci.cocaine_trade", 2023, "BE")]
    assert conflicts == [
        ("oci.cocaine_trade", "BE", 2023, [be, round(be + 0.02, 2)], [PROFILES_SOURCE, "oci-global_oc_index"])
    ]


def test_index_ranks_rank_every_country_per_indicator_and_edition(index_warehouse):
    scores = workbook_scores()
    ranked = {
        (i, y, g): (v, r, n, eu, median)
        for i, g, y, v, r, n, eu, median in index_warehouse.execute(
            "SELECT indicator_id, geo, year, value, rank, n_geos, eu_rank, eu_median FROM index_ranks"
        ).fetchall()
    }
    assert set(ranked) == set(scores)
    tables = {}
    for (indicator, edition, geo), value in scores.items():
        tables.setdefault((indicator, edition), {})[geo] = value
    assert {e for _, e in tables} == {2021, 2023}
    for (indicator, edition), table in tables.items():
        eu = {g: v for g, v in table.items() if g in EU27}
        median = statistics.median(eu.values())
        for geo, value in table.items():
            rank = 1 + sum(other > value for other in table.values())
            eu_rank = 1 + sum(other > value for other in eu.values()) if geo in EU27 else None
            got = ranked[(indicator, edition, geo)]
            assert got[:4] == (value, rank, len(table), eu_rank), (indicator, edition, geo)
            assert got[4] == pytest.approx(median)
    # The 2021 edition scored fewer indicators: those are absent there, not ranked as 0.
    assert len({i for i, e in tables if e == 2021}) < len({i for i, e in tables if e == 2023})
