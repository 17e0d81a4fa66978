"""Statistics publishers' files ingested with no spec: native ids, flags, curated mappings, units, and the
views' handling of breaks in series and provisional values. Every file is a publisher's recorded answer."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re

import duckdb
import pytest

from conftest import query, run_cli
from octracker.load import loading
from publisher_cases import CBS, CBS_80072NED, CBS_83599NED, EUROSTAT, cbs_bundle

SDG = EUROSTAT / "sdg_04_20.csv"
UNE = EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json"
SDG_TOTAL = "estat.sdg_04_20.annual.total.from_25_to_34_years.percentage.tertiary_education_levels_5_8"
#: A curated indicator mapped from the SDMX-CSV download, as a catalog entry would map a crime series.
TERTIARY = """
[[indicator]]
id = "tertiary_attainment_25_34"
name = "Tertiary attainment, age 25-34"
unit = "percent"
direction = "down_is_bad"
frequency = "annual"
min = 0
max = 100
native = ["{native}"]

[[unit]]
name = "percent"
pint = "percent"
aliases = ["Percentage", "PC"]
"""


def ingest(settings, path, *args):
    return run_cli(settings, "ingest", str(path), *args)


def sdg_with(tmp_path, changes: dict[tuple[str, str], dict[str, str]], name="sdg_04_20.csv"):
    """The recorded download with some cells of (geo label, year) rows set otherwise, for the view tests."""
    with SDG.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["sex"] == "Total":
            row.update(changes.get((row["geo"], row["TIME_PERIOD"]), {}))
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def map_catalog(settings, native=SDG_TOTAL, unit="percent"):
    catalog = settings.schemas_dir / "indicators.toml"
    extra = TERTIARY.format(native=native)
    if unit != "percent":
        extra = extra.replace('unit = "percent"\ndirection', f'unit = "{unit}"\ndirection')
    catalog.write_text(catalog.read_text(encoding="utf-8") + extra, encoding="utf-8")


def test_each_kind_is_detected_and_loaded_with_native_ids_and_flags(scratch_project, tmp_path):
    bundle = tmp_path / "80072ned.zip"
    bundle.write_bytes(cbs_bundle(CBS_80072NED))
    done = ingest(scratch_project, SDG)
    assert done.exit_code == 0, done.output
    assert ingest(scratch_project, UNE).exit_code == 0
    assert ingest(scratch_project, bundle).exit_code == 0
    sources = dict(query(scratch_project, "SELECT source_id, kind FROM sources WHERE pipeline = 'inbox'"))
    assert sources == {"estat-sdg_04_20": "sdmx_csv", "estat-une_rt_m": "jsonstat", "cbs-80072ned": "cbs_odata"}
    published = dict(query(scratch_project, "SELECT source_id, published_on::VARCHAR FROM sources"))
    assert published["estat-une_rt_m"] == "2026-09-22" and published["cbs-80072ned"] == "2020-06-19"
    flagged = query(
        scratch_project,
        "SELECT flags, COUNT(*) FROM observations WHERE source_id = 'estat-sdg_04_20' "
        "AND geo = 'BE' AND indicator_id = ? GROUP BY 1 ORDER BY 1",
        [SDG_TOTAL],
    )
    assert flagged == [("b", 4), (None, 12)]
    provisional = query(
        scratch_project,
        "SELECT DISTINCT period_start::VARCHAR FROM series "
        "WHERE indicator_id = 'cbs.80072ned.t001081.m001924' AND flags = 'p'",
    )
    assert provisional == [("2020-01-01",)]
    evidence = query(
        scratch_project,
        "SELECT evidence FROM observations WHERE source_id = 'estat-une_rt_m' AND period_start = '2025-12-01'",
    )[0][0]
    assert evidence == "estat-une_rt_m: estat.une_rt_m.m.sa.total.pc_act.t, DE, 2025-12 = 3.9"


def test_regions_and_pages_of_a_cbs_table(scratch_project, tmp_path):
    bundle = tmp_path / "83599ned.zip"
    bundle.write_bytes(cbs_bundle(CBS_83599NED))
    done = ingest(scratch_project, bundle, "--kind", "cbs_odata")
    assert done.exit_code == 0, done.output
    geos = {g for (g,) in query(scratch_project, "SELECT DISTINCT geo FROM observations")}
    assert {"NL", "NL-PV23", "NL-LD01"} <= geos
    assert query(scratch_project, "SELECT COUNT(*) FROM observations WHERE source_id = 'cbs-83599ned'") == [(15503,)]


def test_one_cbs_answer_alone_is_refused_with_what_to_hand_instead(scratch_project, tmp_path):
    """A TypedDataSet page saved on its own, handed with or without its kind: refused (exit 2, nothing loaded,
    the file in quarantine), the message naming the answers to bundle and the command."""
    page = tmp_path / "80137ned.json"
    page.write_bytes((CBS / "v3" / "CBSOData3jl-meta_8.json").read_bytes())
    for kind in ([], ["--kind", "cbs_odata"]):
        done = ingest(scratch_project, page, *kind)
        assert done.exit_code == 2, done.output
        message = " ".join(done.output.split())
        assert "80137ned.json is one CBS OData answer (TypedDataSet of table 80137ned)" in message
        assert "`octracker ingest 80137ned.zip --kind cbs_odata`" in message
    assert query(scratch_project, "SELECT COUNT(*) FROM observation_history") == [(0,)]
    assert len(list((scratch_project.inbox_dir / "quarantine").glob("*-80137ned.json"))) == 2


def test_an_error_body_is_refused_with_eurostats_message(scratch_project):
    fault = EUROSTAT / "comext" / "ds-045409-fault-413.xml"
    done = ingest(scratch_project, fault, "--kind", "jsonstat")
    assert done.exit_code == 2
    assert "ds-045409-fault-413.xml" in done.output and "EXTRACTION_TOO_BIG" in done.output
    detected = ingest(scratch_project, EUROSTAT / "comext" / "ds-999999-statistics.json")
    assert detected.exit_code == 2 and "ERR_NOT_FOUND_4" in detected.output


def test_confidential_cells_are_not_loaded_as_values(scratch_project):
    done = ingest(scratch_project, EUROSTAT / "sts-inpr-m-ie-confidential.json")
    assert done.exit_code == 0, done.output
    assert query(scratch_project, "SELECT COUNT(*) FROM observation_history WHERE source_id = 'estat-sts_inpr_m'") == [
        (0,)
    ]


def test_a_break_in_series_is_not_compared_across(scratch_project):
    assert ingest(scratch_project, SDG).exit_code == 0
    rows = query(
        scratch_project,
        "SELECT year, comparable, not_comparable FROM yoy_changes WHERE indicator_id = ? AND geo = 'BE' "
        "AND year IN (2013, 2014, 2015) ORDER BY year",
        [SDG_TOTAL],
    )
    assert rows == [(2013, True, None), (2014, False, "break_in_series"), (2015, True, None)]


def test_a_mapped_native_series_answers_under_both_ids(scratch_project):
    map_catalog(scratch_project)
    assert ingest(scratch_project, SDG).exit_code == 0
    both = query(
        scratch_project,
        "SELECT indicator_id, value, unit FROM series WHERE geo = 'NL' AND year = 2023 AND indicator_id IN (?, ?) "
        "ORDER BY indicator_id",
        [SDG_TOTAL, "tertiary_attainment_25_34"],
    )
    assert [(i, u) for i, _, u in both] == [(SDG_TOTAL, "Percentage"), ("tertiary_attainment_25_34", "percent")]
    assert both[0][1] == both[1][1]


def test_a_mapping_to_a_unit_of_another_kind_is_refused(scratch_project):
    map_catalog(scratch_project, unit="tonnes")
    done = ingest(scratch_project, SDG)
    assert done.exit_code == 2
    assert "unit_mismatch" in done.output and "'Percentage' cannot be converted to 'tonnes'" in done.output
    assert query(scratch_project, "SELECT COUNT(*) FROM observation_history") == [(0,)]


@pytest.mark.parametrize("flag", ["p", "b"])
def test_alerts_say_provisional_and_never_cross_a_break(scratch_project, tmp_path, flag):
    """A 30 % fall in the latest year raises a yoy alert; marked provisional it says so, after a break it is none."""
    map_catalog(scratch_project)
    assert ingest(scratch_project, sdg_with(tmp_path, {("Netherlands", "2023"): {"OBS_VALUE": "40.0"}})).exit_code == 0
    before = query(
        scratch_project,
        "SELECT message, provisional FROM trend_alerts WHERE rule = 'yoy_change' "
        "AND indicator_id = 'tertiary_attainment_25_34' AND geo = 'NL'",
    )
    assert len(before) == 1 and "provisional" not in before[0][0] and before[0][1] is False
    changed = sdg_with(tmp_path, {("Netherlands", "2023"): {"OBS_VALUE": "40.0", "OBS_FLAG": flag}}, "sdg2.csv")
    assert ingest(scratch_project, changed).exit_code == 0
    after = query(
        scratch_project,
        "SELECT message, provisional FROM trend_alerts WHERE rule = 'yoy_change' "
        "AND indicator_id = 'tertiary_attainment_25_34' AND geo = 'NL'",
    )
    if flag == "p":
        assert len(after) == 1 and after[0][1] is True
        assert re.search(r"The 2023 value is provisional \(publisher flag p\)\.", after[0][0])
    else:
        assert after == []


def test_a_revised_edition_records_what_each_new_version_states_and_where(scratch_project, tmp_path):
    """The download again with one value revised: its native and curated versions are replaced by versions citing
    the new value, from the same source and method, the curated one keeping its note; nothing else is written."""
    map_catalog(scratch_project)
    assert ingest(scratch_project, SDG).exit_code == 0
    versions = query(scratch_project, "SELECT COUNT(*) FROM observation_history")[0][0]
    revised = sdg_with(tmp_path, {("Netherlands", "2023"): {"OBS_VALUE": "40.0", "OBS_FLAG": "p"}}, "sdg2.csv")
    assert ingest(scratch_project, revised).exit_code == 0
    history = query(
        scratch_project,
        "SELECT indicator_id, value, source_id, method, evidence, note, flags, valid_to IS NULL "
        "FROM observation_history WHERE geo = 'NL' AND year = 2023 AND indicator_id IN (?, ?) "
        "ORDER BY indicator_id, valid_from",
        [SDG_TOTAL, "tertiary_attainment_25_34"],
    )
    source, cited = "estat-sdg_04_20", f"estat-sdg_04_20: {SDG_TOTAL}, NL, 2023"
    old_value = history[0][1]
    assert old_value != 40.0
    note = f"published as {SDG_TOTAL}"
    assert history == [
        (SDG_TOTAL, old_value, source, "parsed", f"{cited} = {old_value}", None, None, False),
        (SDG_TOTAL, 40.0, source, "parsed", f"{cited} = 40.0 (flags p)", None, "p", True),
        ("tertiary_attainment_25_34", old_value, source, "parsed", f"{cited} = {old_value}", note, None, False),
        ("tertiary_attainment_25_34", 40.0, source, "parsed", f"{cited} = 40.0 (flags p)", note, "p", True),
    ]
    assert query(scratch_project, "SELECT COUNT(*) FROM observation_history")[0][0] == versions + 2


def test_a_small_load_writes_on_one_duckdb_thread_and_the_same_rows_as_on_several(scratch_project, monkeypatch):
    """A publisher's file into a small warehouse is written by DuckDB on one thread, which gets its threads back
    after; the history and the alert findings it writes are those a load on DuckDB's threads writes."""
    threads_seen: list[int] = []
    real = loading.on_one_thread_if_small

    @contextlib.contextmanager
    def watched(con, settings, rows):
        with real(con, settings, rows):
            threads_seen.append(con.execute("SELECT current_setting('threads')").fetchone()[0])
            yield
        threads_seen.append(con.execute("SELECT current_setting('threads')").fetchone()[0])

    monkeypatch.setattr(loading, "on_one_thread_if_small", watched)
    written = []
    elsewhere = dataclasses.replace(scratch_project, warehouse=scratch_project.data_dir / "other" / "octracker.duckdb")
    for settings, small in ((scratch_project, loading.SMALL_LOAD_ROWS), (elsewhere, 0)):  # 0: no load is small
        monkeypatch.setattr(loading, "SMALL_LOAD_ROWS", small)
        assert ingest(settings, SDG).exit_code == 0
        history = "SELECT * EXCLUDE (run_id, valid_from) FROM observation_history ORDER BY ALL"
        written.append(query(settings, history) + query(settings, "SELECT * FROM stored_alert_findings ORDER BY ALL"))
    default = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    assert threads_seen == [1, default, default, default]
    assert written[0] == written[1] and written[0]
