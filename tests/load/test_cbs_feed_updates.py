"""A CBS table followed over OData v3, served from its recorded answers on 127.0.0.1: a new `Modified` time with a
restated value is a revision (the old value kept in the history); a server error on a later page fails the run and
keeps the data loaded before; a server that is gone is `unreachable`; answers compressed with gzip read the same.
Also Eurostat's empty answers over HTTP, and the same refresh under `--strict`."""

from __future__ import annotations

import json
import socket

import pytest

from conftest import query, run_cli
from publisher_cases import CBS, CBS_80137NED, EUROSTAT
from publisher_server import Publisher, Route, publisher, refresh, write_spec  # noqa: F401 (publisher: a fixture)

BASE = "/ODataFeed/odata/80137ned/"
TYPED = f"{BASE}TypedDataSet?$format=json"
INFO = f"{BASE}TableInfos?$format=json"


def serve_table(publisher: Publisher, *, gzip: bool = False) -> None:
    for endpoint, files in CBS_80137NED.items():
        body = (CBS / files[0]).read_bytes()
        publisher.routes[f"{BASE}{endpoint}?$format=json"] = Route(body, gzip=gzip)


def recorded(endpoint: str) -> dict:
    return json.loads((CBS / CBS_80137NED[endpoint][0]).read_bytes())


def modified_again(publisher: Publisher, when: str) -> None:
    info = recorded("TableInfos")
    info["value"][0]["Modified"] = when
    publisher.routes[INFO] = Route(json.dumps(info).encode())


def first_load(settings, publisher, **serve) -> dict:
    serve_table(publisher, **serve)
    write_spec(settings, "cbs_80137ned_feed", "cbs_odata", publisher.url(BASE))
    done, [first] = refresh(settings, "cbs_80137ned_feed")
    assert done.exit_code == 0 and first["status"] == "success", done.output
    return first


def test_a_new_modified_time_with_a_restated_value_is_a_revision(scratch_project, publisher):
    first_load(scratch_project, publisher, gzip=True)
    assert all(h.get("accept-encoding") == "gzip" for _, h in publisher.requests)
    data = recorded("TypedDataSet")
    old = data["value"][0]["Totaal_1"]
    data["value"][0]["Totaal_1"] = old + 10
    publisher.routes[TYPED] = Route(json.dumps(data).encode())
    modified_again(publisher, "2010-03-01T02:00:00")
    _, [second] = refresh(scratch_project, "cbs_80137ned_feed")
    assert (second["status"], second["revised"], second["new"]) == ("success", 1, 0)
    versions = query(
        scratch_project,
        "SELECT value, valid_to IS NULL FROM observation_history WHERE source_id = 'cbs_80137ned_feed' "
        "AND indicator_id = 'cbs.80137ned.1.99.totaal_1' AND period_start = '2001-01-01' ORDER BY valid_from",
    )
    assert versions == [(old, False), (old + 10, True)]
    assert query(scratch_project, "SELECT vintage::VARCHAR FROM feed_state WHERE pipeline = 'cbs_80137ned_feed'") == [
        ("2010-03-01 01:00:00",)  # 02:00 in Amsterdam
    ]


def test_a_server_error_on_a_later_page_fails_the_run_and_keeps_the_data(scratch_project, publisher):
    first = first_load(scratch_project, publisher)
    data = recorded("TypedDataSet")
    rows = data["value"]
    page_one = {**data, "value": rows[:300], "odata.nextLink": f"https://opendata.cbs.nl{TYPED}&$skip=300"}
    publisher.routes[TYPED] = Route(json.dumps(page_one).encode())
    publisher.routes[f"{TYPED}&$skip=300"] = Route(b'{"odata.error": "busy"}', status=503)
    modified_again(publisher, "2010-03-01T02:00:00")
    done, [failed] = refresh(scratch_project, "cbs_80137ned_feed")
    assert done.exit_code == 1 and failed["status"] == "failed" and "503" in failed["error"]
    assert publisher.requests[-1][0] == f"{TYPED}&$skip=300"  # the next page was asked here, not at CBS
    assert query(scratch_project, "SELECT COUNT(*) FROM observations WHERE source_id = 'cbs_80137ned_feed'") == [
        (first["new"],)
    ]
    # Nothing of the failed run counts as loaded: once the page answers, the new vintage loads whole.
    publisher.routes[f"{TYPED}&$skip=300"] = Route(json.dumps({**data, "value": rows[300:]}).encode())
    _, [retried] = refresh(scratch_project, "cbs_80137ned_feed")
    assert (retried["status"], retried["unchanged"], retried["new"]) == ("success", first["new"], 0)


def test_a_server_gone_is_unreachable_keeps_the_data_and_strict_says_so(scratch_project, publisher):
    first = first_load(scratch_project, publisher)
    modified_again(publisher, "2010-03-01T02:00:00")
    port = publisher.httpd.server_address[1]
    publisher.close()  # TableInfos will not answer: nothing at all comes back
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    done, [gone] = refresh(scratch_project, "cbs_80137ned_feed")
    assert done.exit_code == 0 and gone["status"] == "unreachable" and "last data kept" in gone["subject"]
    strict = run_cli(scratch_project, "refresh", "cbs_80137ned_feed", "--strict")
    assert strict.exit_code == 1 and "unreachable" in strict.stderr
    assert query(scratch_project, "SELECT COUNT(*) FROM observations WHERE source_id = 'cbs_80137ned_feed'") == [
        (first["new"],)
    ]


@pytest.mark.parametrize(
    "name",
    ["une-rt-m-geo-xx-last1.json", "une-rt-m-unit-fake-last1.json", "sts-inpr-m-ie-empty.json"],
)
def test_eurostat_empty_answers_over_http_load_nothing_and_fail_nothing(scratch_project, publisher, name):
    body = (EUROSTAT / name).read_bytes()
    assert json.loads(body)["value"] == {}
    publisher.routes["/data/query"] = Route(body, gzip=True)
    write_spec(scratch_project, "estat_empty", "jsonstat", publisher.url("/data/query"))
    done, [empty] = refresh(scratch_project, "estat_empty", "--strict")
    assert (done.exit_code, empty["status"], empty["new"], empty["quarantined"]) == (0, "success", 0, 0)
    assert query(scratch_project, "SELECT COUNT(*) FROM observation_history") == [(0,)]
