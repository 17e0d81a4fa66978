"""Read-only commands start fast: they import what they need, not the engine's readers and writers.

Start-up time itself is measured by `python -m benchmarks.startup` (ratios to Python opening the warehouse
with DuckDB); these tests hold the cause, which does not depend on how busy the machine is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from calendar import monthrange
from types import SimpleNamespace

import duckdb
import polars as pl
import pytest

from benchmarks.dataset import MONTHLY, indicator_ids, real_edition, write_project, write_spec
from benchmarks.startup import COMMANDS, main
from conftest import REPO
from octracker.extract import long_table

#: Libraries a read-only command has no use for: table readers and writers, HTTP, the scheduler (APScheduler
#: loads asyncio; `status` reads the pipelines' plain crontab lines itself) and (for JSON) the terminal renderer.
#: Each costs 0.1-0.6 s to import.
HEAVY = ("polars", "pyarrow", "openpyxl", "httpx", "pandera", "pint", "apscheduler", "asyncio", "fastexcel")
#: Modules of octracker's own that only writing or sending needs: the HTTP policy (it loads email.utils) is for
#: `alerts send`, not for listing alerts.
SENDING = ("octracker.httpclient", "octracker.alerts")


#: `python -m octracker ARGS`, which prints the modules loaded as the process ends (an import that failed, such as
#: Pandera's of Hypothesis when it is kept from it, loads none).
LOADED_AT_EXIT = """
import atexit, json, runpy, sys
loaded = lambda: sorted(name for name, module in sys.modules.items() if module is not None)
atexit.register(lambda: print("loaded modules:", json.dumps(loaded()), file=sys.stderr))
sys.argv = ["octracker", *sys.argv[1:]]
runpy.run_module("octracker", run_name="__main__", alter_sys=True)
"""


def imported_modules(settings, *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AT_EXIT, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "OCTRACKER_PROJECT": str(REPO), "OCTRACKER_WAREHOUSE": str(settings.warehouse)},
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    [line] = [line for line in done.stderr.splitlines() if line.startswith("loaded modules: ")]
    return set(json.loads(line.removeprefix("loaded modules: ")))


@pytest.mark.parametrize("args", [["alerts", "--format", "json"], ["status", "--json"], ["sql", "SELECT 1"]])
def test_read_only_commands_do_not_import_readers_writers_or_http(refreshed, args):
    modules = imported_modules(refreshed, *args)
    assert "duckdb" in modules  # the one library they need
    loaded = sorted(
        m
        for m in modules
        if m.split(".")[0] in {h.split(".")[0] for h in HEAVY} and any(m == h or m.startswith(h + ".") for h in HEAVY)
    )
    assert loaded == []


def test_listing_alerts_does_not_load_what_sending_them_needs(refreshed):
    modules = imported_modules(refreshed, "alerts", "--format", "json")
    assert not [m for m in modules for s in SENDING if m == s or m.startswith(s + ".")]


def test_the_alert_checks_read_only_the_series_alerts_can_be_about(refreshed):
    """The whole-world tables (every country of the index workbook and of UNODC, the publishers' native series)
    are in the warehouse for ranks and comparison; the alert checks, which every `alerts` and `status` runs,
    read only the catalog's indicators in the places alerts follow, while the analysts' views keep every country."""
    con = duckdb.connect(str(refreshed.published_path), read_only=True)
    try:
        places = [r[0] for r in con.execute("SELECT place FROM alert_places").fetchall()]
        catalog = {r[0] for r in con.execute("SELECT indicator_id FROM indicators").fetchall()}
        checked = con.execute("SELECT DISTINCT indicator_id, geo FROM alert_findings").fetchall()
        edition_geos = {r[0] for r in con.execute("SELECT DISTINCT geo FROM edition_changes").fetchall()}
        yoy_ids = {r[0] for r in con.execute("SELECT DISTINCT indicator_id FROM yoy_changes").fetchall()}
    finally:
        con.close()
    assert places == ["BE", "EU", "NL"] or sorted(places) == ["BE", "EU", "NL"]
    assert checked, "the bundled project has findings for BE and NL"
    assert all(i in catalog and any(g.startswith(p) for p in places) for i, g in checked)
    assert {"BE", "NL", "FR", "US"} <= edition_geos  # the index's every country, still compared edition to edition
    assert yoy_ids - catalog  # publishers' native series still have their year-over-year changes


@pytest.mark.parametrize(
    "args", [["alerts", "--format", "json"], ["status", "--json"], ["sql", "SELECT 1", "--format", "csv"]]
)
def test_output_for_programs_does_not_load_the_terminal_renderer(refreshed, args):
    assert not any(m == "rich" or m.startswith("rich.") for m in imported_modules(refreshed, *args))


def test_the_startup_benchmark_reports_each_command_against_the_bare_baseline(tmp_path, monkeypatch):
    import benchmarks.startup as startup

    monkeypatch.setattr(startup, "RESULTS_FILE", tmp_path / "startup_results.json")
    code = main(["--repeats", "1"])
    report = json.loads((tmp_path / "startup_results.json").read_text(encoding="utf-8"))
    assert set(report["results"]) == {"baseline", *COMMANDS}
    assert report["results"]["baseline"]["ratio"] == 1.0
    assert all(r["median_s"] > 0 for r in report["results"].values())
    assert code == (0 if report["met"] else 1)


def test_ingesting_a_publishers_csv_loads_no_workbook_reader_http_client_or_example_data_generator(tmp_path):
    """`octracker ingest` of Eurostat's SDMX-CSV pays for what reads, checks and writes it: not openpyxl (index
    workbooks), httpx (feeds), Hypothesis (Pandera's example data, where the test tools are installed, 0.1-0.3 s),
    the parsers of index profiles and articles (their patterns compile as they load) nor, under --quiet, the
    terminal renderer."""
    settings = SimpleNamespace(warehouse=tmp_path / "octracker.duckdb")
    modules = imported_modules(
        settings, "--quiet", "ingest", str(REPO / "tests/cases/publishers/eurostat/sdg_04_20.csv")
    )
    assert {"duckdb", "polars", "pandera"} <= modules  # read, checked against the contract, written
    assert (tmp_path / "published" / "octracker.duckdb").exists()
    # A package is loaded when its top module is: an attempt to import a submodule of a missing one is listed too.
    unused = {"openpyxl", "httpx", "hypothesis", "rich", "octracker.extract.oci_profile", "octracker.extract.articles"}
    assert sorted(unused & modules) == []


def test_ingesting_a_file_the_warehouse_holds_already_loads_no_reader_or_table_library(tmp_path):
    """The same bytes given again are reported unchanged without being read or detected, so nothing is checked
    against the contract: the process loads neither Pandera (0.2-0.3 s) nor Polars and pyarrow (0.3-0.4 s), nor a
    publisher's reader. A new edition of the file still does."""
    settings = SimpleNamespace(warehouse=tmp_path / "octracker.duckdb")
    recorded = REPO / "tests/cases/publishers/eurostat/sdg_04_20.csv"
    args = ("--quiet", "ingest", "--json")
    assert {"pandera", "polars", "pyarrow"} <= imported_modules(settings, *args, str(recorded))
    again = imported_modules(settings, *args, str(recorded))
    assert sorted({"pandera", "polars", "pyarrow", "octracker.extract.publishers.sdmx_csv"} & again) == []
    edition = tmp_path / "edition" / recorded.name  # the recorded file with its last value revised
    edition.parent.mkdir()
    text = recorded.read_bytes().rstrip(b"\r\n")
    head, last = text.rsplit(b"\r\n", 1)
    cells = last.split(b",")
    value_at = text.split(b"\r\n", 1)[0].split(b",").index(b"OBS_VALUE")
    cells[value_at] = str(float(cells[value_at]) + 1).encode()
    edition.write_bytes(head + b"\r\n" + b",".join(cells) + b"\r\n")
    assert "pandera" in imported_modules(settings, *args, str(edition))


def test_a_refresh_whose_inputs_did_not_change_loads_no_reader_or_table_library(tmp_path):
    """A pipeline whose document, spec, contract and engine are as at its last load is recorded unchanged before
    anything is read: the second refresh loads neither Polars, pyarrow nor Pandera. The first one does."""
    project = tmp_path / "project"
    for folder in ("schemas", "warehouse/migrations", "warehouse/views"):
        shutil.copytree(REPO / folder, project / folder)
    spec = REPO / "pipelines" / "oci_2021_belgium.toml"
    (project / "pipelines").mkdir()
    shutil.copy(spec, project / "pipelines")
    document = spec.parent / tomllib.loads(spec.read_text(encoding="utf-8"))["document"]
    (project / "pipelines" / "documents").mkdir()
    for path in document.parent.glob(f"{document.name}*"):  # the document and its sidecar
        shutil.copy(path, project / "pipelines" / "documents")
    settings = SimpleNamespace(warehouse=tmp_path / "warehouse" / "octracker.duckdb")
    args = ("--project", str(project), "--quiet", "refresh")
    assert {"polars", "pyarrow", "pandera"} <= imported_modules(settings, *args)
    assert sorted({"polars", "pyarrow", "pandera"} & imported_modules(settings, *args)) == []


def test_a_few_corrections_load_without_pyarrows_dataset_module(tmp_path):
    """A feed of a few corrected rows into a warehouse holding its table is compared with what it holds without
    DuckDB being handed a pyarrow table, which imports pyarrow's dataset module (0.15-0.3 s of a small change's
    1.5-2 s into ten million rows): the rows go through the Arrow stream interface instead. The corrections are
    recorded as revisions all the same."""
    project = write_project(tmp_path / "project")
    months = [
        f"2024-{m:02d}-01/2024-{m:02d}-{28 if m == 2 else 30 if m in (4, 6, 9, 11) else 31}" for m in range(1, 13)
    ]
    table = pl.DataFrame(
        {
            "indicator": [i for i in indicator_ids(3) for _ in ("BE", "NL") for _ in months],
            "geo": [g for _ in range(3) for g in ("BE", "NL") for _ in months],
            "period": months * 6,
            "value": [float(n) for n in range(72)],
            "unit": ["count"] * 72,
        }
    )
    table.write_parquet(tmp_path / "table.parquet")
    write_spec(project, tmp_path / "table.parquet", MONTHLY, full_snapshot=False)
    settings = SimpleNamespace(warehouse=tmp_path / "warehouse" / "octracker.duckdb")
    args = ("--project", str(project), "--quiet", "refresh")
    assert "pyarrow" in imported_modules(settings, *args)
    corrections = table[[5, 40]].with_columns(value=pl.col("value") + 1000)
    corrections.write_parquet(tmp_path / "corrections.parquet")
    write_spec(project, tmp_path / "corrections.parquet", MONTHLY, full_snapshot=False)
    modules = imported_modules(settings, *args)
    assert {"pyarrow", "pandera"} <= modules  # read and checked
    assert "pyarrow.dataset" not in modules
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        counts = con.execute(
            "SELECT rows_new, rows_revised, rows_unchanged FROM runs WHERE status = 'success' ORDER BY started_at"
        ).fetchall()
        current = con.execute(
            "SELECT indicator_id, geo, period_start, value FROM observation_history WHERE valid_to IS NULL "
            "AND value >= 1000 ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert counts == [(72, 0, 0), (0, 2, 0)]
    assert [(i, g, str(d), v) for i, g, d, v in current] == [
        ("bench_ind_000", "BE", "2024-06-01", 1005.0),
        ("bench_ind_001", "NL", "2024-05-01", 1040.0),
    ]


def test_a_publishers_export_and_its_next_edition_load_without_pyarrows_dataset_module(tmp_path):
    """A publisher's file of a few ten thousand rows reaches DuckDB through the Arrow stream interface, never as a
    pyarrow object, whose first reading imports pyarrow's dataset module (0.1-0.3 s of each `octracker ingest`):
    the UNODC export's first load, the rows it sets aside (areas with no ISO code) and the comparison of its next
    edition (one value in 20 revised) with what the warehouse holds. They are recorded all the same."""
    settings = SimpleNamespace(warehouse=tmp_path / "warehouse" / "octracker.duckdb")
    recorded = REPO / "tests/cases/publishers/unodc/data_cts_violent_and_sexual_crime.xlsx"
    edition = real_edition(recorded, tmp_path / "editions")
    for file in (recorded, edition):
        modules = imported_modules(settings, "--quiet", "ingest", str(file))
        assert {"pyarrow", "pandera"} <= modules  # read and checked
        assert "pyarrow.dataset" not in modules
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        counts = con.execute(
            "SELECT rows_new, rows_revised, rows_quarantined FROM runs WHERE status = 'success' ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()
    assert counts == [(27924, 0, 450), (0, 1357, 450)]


def test_a_large_tables_first_load_read_in_batches_loads_without_pyarrows_dataset_or_compute_module(tmp_path):
    """A table of a hundred thousand rows and more is read, checked and inserted in batches; its batches reach DuckDB
    through the Arrow stream interface, never as a pyarrow reader (whose first reading imports pyarrow's dataset
    module), and the key check's hashes become a polars column without pyarrow's compute module, which polars imports
    to make a Series of a pyarrow array: each import cost the first load of a 1M-row table 0.03-0.05 s of CPU on its
    critical path. The rows are loaded all the same, the findings of their series stored."""
    project = write_project(tmp_path / "project")
    months = [f"{y}-{m:02d}-01/{y}-{m:02d}-{monthrange(y, m)[1]}" for y in range(1985, 2025) for m in range(1, 13)]
    geos = ["BE", "NL", "DE", "FR", "LU", "ES", "IT", "PT", "AT", "PL"]
    indicators = indicator_ids(25)
    rows = len(indicators) * len(geos) * len(months)
    table = pl.DataFrame(
        {
            "indicator": [i for i in indicators for _ in geos for _ in months],
            "geo": [g for _ in indicators for g in geos for _ in months],
            "period": months * len(indicators) * len(geos),
            "value": [float(n % 1000) for n in range(rows)],
            "unit": ["count"] * rows,
        }
    )
    assert table.height >= long_table.REFERENCE_FROM_ROWS  # read in batches
    table.write_parquet(tmp_path / "table.parquet")
    write_spec(project, tmp_path / "table.parquet", MONTHLY)
    settings = SimpleNamespace(warehouse=tmp_path / "warehouse" / "octracker.duckdb")
    modules = imported_modules(settings, "--project", str(project), "--quiet", "refresh")
    assert {"pyarrow", "pyarrow._parquet", "pandera"} <= modules  # read (its footer by pyarrow) and checked
    assert sorted({"pyarrow.dataset", "pyarrow.compute"} & modules) == []
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        [(loaded,)] = con.execute("SELECT rows_new FROM runs WHERE status = 'success'").fetchall()
        [(findings,)] = con.execute("SELECT COUNT(*) FROM stored_alert_findings").fetchall()
    finally:
        con.close()
    assert loaded == rows
    assert findings > 0
