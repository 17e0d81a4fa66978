"""`octracker export`: the analyst views as Parquet or CSV, from the published copy, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq

from analyst_fixtures import NARCO, figure, load_rows, year
from conftest import query, run_cli
from octracker.load.pipeline import refresh
from octracker.serve.export import EXPORTED_RELATIONS
from octracker.store.warehouse import open_writer


def present_relations(settings) -> list[str]:
    """The exported relations this warehouse has (changes and index_ranks come with their views)."""
    names = {r[0] for r in query(settings, "SELECT table_name FROM information_schema.tables")}
    return [r for r in EXPORTED_RELATIONS if r in names]


def test_parquet_export_writes_the_views_with_their_types_and_rows(refreshed, tmp_path):
    out = tmp_path / "out"
    result = run_cli(refreshed, "export", "--format", "parquet", "--out", str(out))
    assert result.exit_code == 0, result.output
    relations = present_relations(refreshed)
    assert {"edition_changes", "changes", "index_ranks", "indicators", "sources"} <= set(relations)
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{r}.parquet" for r in relations), "datapackage.json"])
    for relation in relations:
        table = pq.read_table(out / f"{relation}.parquet")
        assert [tuple(r.values()) for r in table.to_pylist()] == query(
            refreshed, f"SELECT * FROM {relation} ORDER BY ALL"
        )
    series = pq.read_table(out / "series.parquet")
    assert str(series.schema.field("period_start").type) == "date32[day]"
    assert str(series.schema.field("value").type) == "double"


def test_views_a_warehouse_does_not_have_are_skipped_and_named(without_alert_views, tmp_path):
    refresh(without_alert_views)
    out = tmp_path / "out"
    result = run_cli(without_alert_views, "export", "--format", "parquet", "--out", str(out))
    assert result.exit_code == 0
    missing = [r for r in EXPORTED_RELATIONS if r not in present_relations(without_alert_views)]
    assert {"yoy_changes", "edition_changes", "trend_alerts"} <= set(missing)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{r}.parquet" for r in present_relations(without_alert_views)), "datapackage.json"]
    )
    assert f"Skipped (not in this warehouse): {', '.join(missing)}" in result.output
    summary = json.loads(run_cli(without_alert_views, "export", "--format", "csv", "--out", str(out), "--json").output)
    assert summary["skipped"] == missing


def test_csv_export_has_a_header_and_one_line_per_row(refreshed, tmp_path):
    result = run_cli(refreshed, "export", "--format", "csv", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0
    written = {w["relation"]: w for w in json.loads(result.output)["written"]}
    with open(tmp_path / "series.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == written["series"]["rows"] == query(refreshed, "SELECT COUNT(*) FROM series")[0][0]
    seized = [r for r in rows if r["indicator_id"] == "cocaine_seized_tonnes" and r["year"] == "2021"]
    assert seized == [
        dict(
            seized[0],
            value="90.0",
            qualifier="approx",
            is_partial="False",
            evidence="In 2021, nearly 90 tons of cocaine were seized at the port.",
        )
    ]
    with open(tmp_path / "trend_alerts.csv", encoding="utf-8", newline="") as fh:
        alerts = list(csv.DictReader(fh))
    assert alerts and all(json.loads(a["source_ids"]) for a in alerts)  # lists are JSON in a cell
    assert not list(tmp_path.glob(".*tmp"))


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(scratch_project, tmp_path):
    settings = scratch_project
    refresh(settings)
    load_rows(
        settings,
        NARCO,
        "article_narco_paradox",
        [
            figure("shootings", "BE-BRU", year(2022), 61, "count", '=HYPERLINK("http://evil.example","click")'),
            figure("shootings", "BE-BRU", year(2021), 60, "count", "+cmd|' /C calc'!A0"),
            figure("shootings", "BE-BRU", year(2020), 59, "count", "@SUM(1+1)*cmd|' /C calc'!A0"),
            figure("shootings", "BE-BRU", year(2019), 58, "count", "-2+3"),
        ],
    )
    assert run_cli(settings, "export", "--format", "csv", "--out", str(tmp_path)).exit_code == 0
    with open(tmp_path / "observations.csv", encoding="utf-8", newline="") as fh:
        evidence = {
            r["year"]: r["evidence"]
            for r in csv.DictReader(fh)
            if r["indicator_id"] == "shootings" and r["year"] < "2023"
        }
    assert evidence == {
        "2022": '\'=HYPERLINK("http://evil.example","click")',
        "2021": "'+cmd|' /C calc'!A0",
        "2020": "'@SUM(1+1)*cmd|' /C calc'!A0",
        "2019": "'-2+3",
    }
    # Parquet keeps the text as the source wrote it: it is typed data, not a spreadsheet.
    assert run_cli(settings, "export", "--format", "parquet", "--out", str(tmp_path)).exit_code == 0
    raw = {
        r["year"]: r["evidence"]
        for r in pq.read_table(tmp_path / "observations.parquet").to_pylist()
        if r["indicator_id"] == "shootings"
    }
    assert raw[2022] == '=HYPERLINK("http://evil.example","click")'


def test_export_reads_the_published_copy_while_a_writer_holds_the_warehouse(refreshed, tmp_path):
    with open_writer(refreshed):
        result = run_cli(refreshed, "export", "--format", "csv", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "series.csv").exists()


def test_quiet_export_prints_nothing_and_bad_usage_exits_2(refreshed, tmp_path):
    quiet = run_cli(refreshed, "-q", "export", "--format", "csv", "--out", str(tmp_path))
    assert quiet.exit_code == 0 and quiet.output == ""
    bad = run_cli(refreshed, "export", "--format", "xlsx", "--out", str(tmp_path))
    assert bad.exit_code == 2 and "'xlsx' is not one of 'parquet', 'csv'" in bad.output
    missing = run_cli(refreshed, "export", "--format", "csv")
    assert missing.exit_code == 2 and "Missing option '--out'" in missing.output
