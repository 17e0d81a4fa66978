"""Publishers' feeds against a real HTTP server on 127.0.0.1 serving their recorded answers: gzip, 304s,
vintages, paging, errors, empty answers, an unreachable feed and the bundled snapshot."""

from __future__ import annotations

import json
import socket

import httpx

from conftest import query, run_cli
from octracker.content.feed_specs import read_feed_table
from octracker.extract.publishers import cbs_odata
from octracker.load.publisher_feeds import _pages
from publisher_cases import CBS, CBS_80072NED, CBS_80137NED, CBS_83599NED, EUROSTAT
from publisher_server import Publisher, Route, publisher, refresh, write_spec  # noqa: F401 (publisher: a fixture)

UNE = EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_eurostat_feed_gzip_304_same_vintage_and_a_revision(scratch_project, publisher):
    path = "/api/dissemination/statistics/1.0/data/une_rt_m?geo=DE"
    publisher.routes[path] = Route(UNE.read_bytes(), etag='"v1"', gzip=True)
    write_spec(scratch_project, "estat_une", "jsonstat", publisher.url(path))
    done, [first] = refresh(scratch_project, "estat_une")
    assert done.exit_code == 0, done.output
    assert (first["status"], first["new"]) == ("success", 31)
    assert query(scratch_project, "SELECT published_on::VARCHAR FROM sources WHERE source_id = 'estat_une'") == [
        ("2026-09-22",)
    ]
    # Unchanged on the server: a conditional GET answered 304.
    _, [second] = refresh(scratch_project, "estat_une")
    assert second["status"] == "unchanged" and "304" in second["subject"]
    assert publisher.requests[-1][1].get("if-none-match") == '"v1"'
    # Other bytes (minified), same `updated`: the vintage says nothing changed.
    body = json.loads(UNE.read_bytes())
    publisher.routes[path] = Route(json.dumps(body).encode())
    _, [third] = refresh(scratch_project, "estat_une")
    assert third["status"] == "unchanged" and "same vintage" in third["subject"]
    # A new vintage restating one month: a revision, the old version kept in the history.
    body.update(updated="2026-10-22T11:00:00+0200")
    body["value"]["23"] = 4.1
    publisher.routes[path] = Route(json.dumps(body).encode())
    _, [fourth] = refresh(scratch_project, "estat_une")
    assert (fourth["status"], fourth["revised"], fourth["unchanged"]) == ("success", 1, 30)
    versions = query(
        scratch_project,
        "SELECT value, valid_to IS NULL FROM observation_history WHERE source_id = 'estat_une' "
        "AND period_start = '2025-12-01' ORDER BY valid_from",
    )
    assert versions == [(3.9, False), (4.1, True)]


def test_eurostat_errors_and_empty_answers(scratch_project, publisher):
    too_big = (EUROSTAT / "comext" / "ds-045409-extraction-too-big.json").read_bytes()
    publisher.routes["/data/big"] = Route(too_big, status=413)
    publisher.routes["/data/error-as-200"] = Route(too_big)
    publisher.routes["/data/empty"] = Route((EUROSTAT / "nama-10-gdp-de-since-2030.json").read_bytes())
    write_spec(scratch_project, "big", "jsonstat", publisher.url("/data/big"))
    write_spec(scratch_project, "error_as_200", "jsonstat", publisher.url("/data/error-as-200"))
    write_spec(scratch_project, "empty", "jsonstat", publisher.url("/data/empty"))
    done, [big] = refresh(scratch_project, "big")
    assert big["status"] == "failed" and "413" in big["error"] and done.exit_code == 1
    done, [error] = refresh(scratch_project, "error_as_200")
    assert error["status"] == "refused" and "EXTRACTION_TOO_BIG" in error["error"] and done.exit_code == 2
    done, [empty] = refresh(scratch_project, "empty")
    assert (empty["status"], empty["new"], done.exit_code) == ("success", 0, 0)


def test_an_unreachable_feed_loads_its_snapshot_once_then_keeps_its_data(scratch_project):
    url = f"http://127.0.0.1:{closed_port()}/data/sdg_04_20"
    write_spec(scratch_project, "estat_sdg_04_20", "sdmx_csv", url, snapshot="snapshots/estat_sdg_04_20.csv")
    done, [first] = refresh(scratch_project, "estat_sdg_04_20")
    assert done.exit_code == 0 and first["status"] == "unreachable" and first["new"] == 1608
    assert "loaded the bundled snapshot" in first["subject"]
    done, [second] = refresh(scratch_project, "estat_sdg_04_20")
    assert second["status"] == "unreachable" and "last data kept" in second["subject"] and done.exit_code == 0
    assert query(scratch_project, "SELECT COUNT(*) FROM observations WHERE source_id = 'estat-sdg_04_20'") == [(1608,)]
    strict = run_cli(scratch_project, "refresh", "estat_sdg_04_20", "--strict")
    assert strict.exit_code == 1 and "Warning: estat_sdg_04_20: unreachable" in strict.stderr
    assert (
        query(scratch_project, "SELECT status FROM runs WHERE pipeline = 'estat_sdg_04_20' ORDER BY started_at")
        == [("unreachable",)] * 3
    )


def cbs_routes(publisher: Publisher, base: str, endpoints: dict[str, list[str]], v4: bool) -> None:
    for endpoint, files in endpoints.items():
        path = f"{base}{endpoint}" if v4 else f"{base}{endpoint}?$format=json"
        publisher.routes[path] = Route((CBS / files[0]).read_bytes())


def test_a_cbs_v3_table_is_fetched_whole_then_one_request_says_unchanged(scratch_project, publisher):
    base = "/ODataFeed/odata/80137ned/"
    cbs_routes(publisher, base, CBS_80137NED, v4=False)
    write_spec(scratch_project, "cbs_80137ned", "cbs_odata", publisher.url(base))
    done, [first] = refresh(scratch_project, "cbs_80137ned")
    assert done.exit_code == 0, done.output
    assert (first["status"], first["new"]) == ("success", 8100)
    asked = [p for p, _ in publisher.requests]
    assert asked[0] == f"{base}TableInfos?$format=json" and f"{base}TypedDataSet?$format=json" in asked
    before = len(publisher.requests)
    _, [second] = refresh(scratch_project, "cbs_80137ned")
    assert second["status"] == "unchanged" and "TableInfos" in second["subject"]
    assert [p for p, _ in publisher.requests[before:]] == [f"{base}TableInfos?$format=json"]


def test_a_cbs_v4_table_with_a_provisional_period(scratch_project, publisher):
    base = "/CBS/80072ned/"
    cbs_routes(publisher, base, CBS_80072NED, v4=True)
    write_spec(scratch_project, "cbs_80072ned", "cbs_odata", publisher.url(base))
    done, [first] = refresh(scratch_project, "cbs_80072ned")
    assert done.exit_code == 0, done.output
    assert (first["status"], first["new"]) == ("success", 4409)
    assert query(
        scratch_project,
        "SELECT DISTINCT flags FROM observations WHERE period_start = '2020-01-01' AND period_end = '2020-03-31'",
    ) == [("p",)]


def test_cbs_pages_are_followed_to_the_end(publisher, tmp_path):
    """The recorded first page links to `$skip=10000` on CBS's own address: the next page is asked here."""
    first, second = [(CBS / f).read_bytes() for f in CBS_83599NED["UntypedDataSet"]]
    publisher.routes["/ODataFeed/OData/83599NED/UntypedDataSet?$format=json"] = Route(first)
    publisher.routes["/ODataFeed/OData/83599NED/UntypedDataSet/?$format=json&$skip=10000"] = Route(second)
    spec = tmp_path / "spec.toml"
    config = read_feed_table(
        {"url": publisher.url("/ODataFeed/OData/83599NED/"), "format": "cbs_odata", "allow_http_hosts": ["127.0.0.1"]},
        str(spec),
    )
    with httpx.Client() as http:
        pages = _pages(
            http, config, publisher.url("/ODataFeed/OData/83599NED/UntypedDataSet?$format=json"), "UntypedDataSet"
        )
    assert pages == [first, second]
    table = cbs_odata.read(cbs_odata.bundle_answers({"UntypedDataSet": pages}), name="83599ned.zip")
    assert table.ok and table.frame.height == 15504


def test_a_unodc_export_feed_is_dated_by_its_release(scratch_project, publisher):
    export = (CBS.parent / "unodc" / "data_cts_violent_and_sexual_crime.xlsx").read_bytes()
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    publisher.routes["/unodc/cts.xlsx"] = Route(export, content_type=xlsx)
    write_spec(scratch_project, "unodc_cts", "unodc_xlsx", publisher.url("/unodc/cts.xlsx"))
    done, [first] = refresh(scratch_project, "unodc_cts")
    assert done.exit_code == 0, done.output
    assert first["status"] == "success" and first["new"] > 0
    assert query(scratch_project, "SELECT published_on::VARCHAR FROM sources WHERE source_id = 'unodc_cts'") == [
        ("2024-05-16",)
    ]
    _, [second] = refresh(scratch_project, "unodc_cts")
    assert second["status"] == "unchanged" and "same content" in second["subject"]
