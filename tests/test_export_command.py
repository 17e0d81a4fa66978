"""`octracker export`: the analyst views as Parquet or CSV, from the published copy, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import json

import duckdb
import pyarrow.parquet as pq

from analyst_fixtures import (NARCO, add_trend_alerts_stub, figure, invoke, load_figures,  # noqa: F401
                              refreshed, year)
from octracker.warehouse import open_writer


def published_rows(settings, relation):
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {relation} ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_parquet_export_writes_the_views_this_warehouse_has_and_names_the_others(figures_settings, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    result = invoke(figures_settings, "export", "--format", "parquet", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["observations.parquet", "series.parquet"]
    assert "Skipped (not in this warehouse): yoy_changes, trend_alerts" in result.output
    for relation in ("series", "observations"):
        table = pq.read_table(out / f"{relation}.parquet")
        assert table.num_rows == len(published_rows(figures_settings, relation))
        assert [tuple(r.values()) for r in table.to_pylist()] == published_rows(figures_settings, relation)
    series = pq.read_table(out / "series.parquet")
    assert str(series.schema.field("period_start").type) == "date32[day]"
    assert str(series.schema.field("value").type) == "double"


def test_csv_export_has_a_header_and_one_line_per_row(figures_settings, tmp_path):  # noqa: F811
    result = invoke(figures_settings, "export", "--format", "csv", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0
    summary = json.loads(result.output)
    assert summary["skipped"] == ["yoy_changes", "trend_alerts"]
    written = {w["relation"]: w for w in summary["written"]}
    with open(tmp_path / "series.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == written["series"]["rows"] == len(published_rows(figures_settings, "series"))
    seized = [r for r in rows if r["indicator_id"] == "cocaine_seized_tonnes" and r["year"] == "2021"]
    assert seized == [dict(seized[0], value="90.0", qualifier="approx", is_partial="False",
                           evidence="In 2021, nearly 90 tons of cocaine were seized at the port.")]
    assert not list(tmp_path.glob(".*tmp"))


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(scratch_project, tmp_path):
    settings = scratch_project
    hostile = [(NARCO, "article_narco_paradox", [
        figure("shootings", "BE-BRU", year(2022), 61, "count", '=HYPERLINK("http://evil.example","click")'),
        figure("shootings", "BE-BRU", year(2021), 60, "count", "+cmd|' /C calc'!A0"),
        figure("shootings", "BE-BRU", year(2020), 59, "count", "@SUM(1+1)*cmd|' /C calc'!A0"),
        figure("shootings", "BE-BRU", year(2019), 58, "count", "-2+3"),
    ])]
    load_figures(settings, hostile, quoted=False)
    assert invoke(settings, "export", "--format", "csv", "--out", str(tmp_path)).exit_code == 0
    with open(tmp_path / "observations.csv", encoding="utf-8", newline="") as fh:
        evidence = {r["year"]: r["evidence"] for r in csv.DictReader(fh) if r["indicator_id"] == "shootings"}
    assert evidence == {"2022": "'=HYPERLINK(\"http://evil.example\",\"click\")", "2021": "'+cmd|' /C calc'!A0",
                        "2020": "'@SUM(1+1)*cmd|' /C calc'!A0", "2019": "'-2+3"}
    # Parquet keeps the text as the source wrote it: it is typed data, not a spreadsheet.
    assert invoke(settings, "export", "--format", "parquet", "--out", str(tmp_path)).exit_code == 0
    raw = {r["year"]: r["evidence"] for r in pq.read_table(tmp_path / "observations.parquet").to_pylist()
           if r["indicator_id"] == "shootings"}
    assert raw[2022] == '=HYPERLINK("http://evil.example","click")'


def test_trend_alerts_are_exported_when_the_warehouse_has_them(scratch_project, tmp_path):
    settings = scratch_project
    add_trend_alerts_stub(settings)
    load_figures(settings)
    result = invoke(settings, "export", "--format", "parquet", "--out", str(tmp_path), "--json")
    summary = json.loads(result.output)
    assert summary["skipped"] == ["yoy_changes"]
    assert pq.read_table(tmp_path / "trend_alerts.parquet").num_rows == 5


def test_export_reads_the_published_copy_while_a_writer_holds_the_warehouse(refreshed, tmp_path):  # noqa: F811
    with open_writer(refreshed):
        result = invoke(refreshed, "export", "--format", "csv", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "series.csv").exists()


def test_quiet_export_prints_nothing_and_bad_usage_exits_2(refreshed, tmp_path):  # noqa: F811
    quiet = invoke(refreshed, "-q", "export", "--format", "csv", "--out", str(tmp_path))
    assert quiet.exit_code == 0 and quiet.output == ""
    bad = invoke(refreshed, "export", "--format", "xlsx", "--out", str(tmp_path))
    assert bad.exit_code == 2 and "'xlsx' is not one of 'parquet', 'csv'" in bad.output
    missing = invoke(refreshed, "export", "--format", "csv")
    assert missing.exit_code == 2 and "Missing option '--out'" in missing.output
