"""`octracker export` writes datapackage.json: a Frictionless Tabular Data Package that describes each file
(fields and types, size, sha256), the indicators' units and the sources, checked here against the spec's
rules and against the files themselves."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re

import pytest

from conftest import query, run_cli

NAME = re.compile(r"^[a-z0-9._-]+$")
TYPES = {"string", "number", "integer", "boolean", "date", "datetime", "array", "any"}
TRUE, FALSE = {"true", "True", "TRUE", "1"}, {"false", "False", "FALSE", "0"}


@pytest.fixture(scope="module")
def exported(refreshed, tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    result = run_cli(refreshed, "export", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"Described in {out / 'datapackage.json'}" in result.output
    return out, json.loads((out / "datapackage.json").read_text(encoding="utf-8"))


def cell_fits(value: str, field_type: str) -> bool:
    """Whether a CSV cell reads as its Table Schema type (an empty cell is a missing value)."""
    if value == "" or field_type in ("string", "any"):
        return True
    checks = {
        "integer": lambda v: re.fullmatch(r"-?\d+", v) is not None,
        "number": lambda v: float(v) is not None,
        "boolean": lambda v: v in TRUE | FALSE,
        "date": lambda v: dt.date.fromisoformat(v) is not None,
        "datetime": lambda v: dt.datetime.fromisoformat(v) is not None,
        "array": lambda v: isinstance(json.loads(v), list),
    }
    try:
        return checks[field_type](value)
    except ValueError:
        return False


def test_the_package_follows_the_tabular_data_package_rules(exported):
    _, package = exported
    assert package["profile"] == "tabular-data-package" and NAME.match(package["name"])
    dt.datetime.fromisoformat(package["created"].replace("Z", "+00:00"))
    names = [r["name"] for r in package["resources"]]
    assert len(names) == len(set(names)) and all(NAME.match(n) for n in names)
    for resource in package["resources"]:
        assert resource["profile"] == "tabular-data-resource"
        assert resource["format"] == "csv" and resource["mediatype"] == "text/csv"
        assert resource["encoding"] == "utf-8" and resource["dialect"]["header"] is True
        fields = resource["schema"]["fields"]
        assert fields and all(f["type"] in TYPES for f in fields)
        for key in resource["schema"].get("primaryKey", []):
            assert key in {f["name"] for f in fields}


def test_each_resource_describes_its_file_exactly(exported, refreshed):
    out, package = exported
    assert {r["name"] for r in package["resources"]} >= {
        "series",
        "observations",
        "yoy_changes",
        "edition_changes",
        "trend_alerts",
        "index_ranks",
        "indicators",
        "sources",
    }
    for resource in package["resources"]:
        path = out / resource["path"]
        data = path.read_bytes()
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        fields = resource["schema"]["fields"]
        assert header == [f["name"] for f in fields]
        assert len(rows) == resource["rows"] == query(refreshed, f"SELECT COUNT(*) FROM {resource['name']}")[0][0]
        for row in rows:
            for cell, field in zip(row, fields):
                assert cell_fits(cell, field["type"]), (resource["name"], field, cell)


def test_units_and_sources_are_those_of_the_warehouse(exported, refreshed):
    _, package = exported
    assert package["units"]["cocaine_seized_tonnes"] == "tonnes"
    assert package["units"]["oci.criminality"] == "score"
    assert package["units"] == dict(query(refreshed, "SELECT indicator_id, unit FROM indicators"))
    sources = {s["id"]: s for s in package["sources"]}
    assert set(sources) == {r[0] for r in query(refreshed, "SELECT source_id FROM sources")}
    assert all(s["title"] for s in sources.values())
    series = next(r for r in package["resources"] if r["name"] == "series")
    value = next(f for f in series["schema"]["fields"] if f["name"] == "value")
    assert value["type"] == "number" and "unit" in value["description"]


def test_the_frictionless_validator_finds_every_file_valid_and_an_edited_one_not(exported, tmp_path):
    from frictionless import Package, validate

    out, package = exported
    report = validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["title", "rowNumber", "fieldName", "note"])
    assert sorted(task.name for task in report.tasks) == sorted(r["name"] for r in package["resources"])
    # The same check on a copy whose sources file was edited after the export: its size and sha256 no longer match.
    copy = tmp_path / "edited"
    copy.mkdir()
    for name in ("datapackage.json", "sources.csv"):
        (copy / name).write_bytes((out / name).read_bytes())
    header = (copy / "sources.csv").read_text(encoding="utf-8").splitlines()[0]
    with open(copy / "sources.csv", "a", encoding="utf-8") as fh:
        fh.write(",".join("x" for _ in header.split(",")) + "\n")
    edited = Package(str(copy / "datapackage.json")).get_resource("sources").validate()
    assert not edited.valid
    assert {"hash-count", "byte-count"} <= {error_type for (error_type,) in edited.flatten(["type"])}
