"""SQL views tested as data: each `tests/cases/views/*.toml` gives input rows and the rows views must return.

A case file holds:
  description        what it shows
  today              (optional) the date alerts are judged against, pinned in the alert_clock view
  [[indicators]]     (optional) extra catalog entries, besides the real catalog
  [[sources]]        source rows (defaults: kind article, precedence 30, published_on NULL)
  [[observations]]   current observations (defaults: full calendar `year`, qualifier exact, not partial,
                     unit from the catalog, method parsed); `period = "YYYY-MM-DD/YYYY-MM-DD"` overrides year
  [[expect]]         view, columns, optional where and order_by (default: the columns), and rows; the string
                     "NULL" stands for SQL NULL; floats match to 1e-6 relative
The real `schemas/alert_rules.toml` is used, so the cases also pin the shipped rules' behaviour.
Every case runs on each warehouse backend (the DuckDB file and DuckLake).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import duckdb
import pytest

from history_rows import insert_history
from octracker.content.alert_rules import load_alert_rules
from octracker.content.catalog import Catalog, Indicator
from octracker.store.findings import series_changed, source_changed, store_alert_findings
from octracker.store.history import periods_gained
from octracker.store.warehouse import apply_migrations, apply_views, open_writer, sync_alert_rules, sync_indicators
from octracker.store.writers import settle_owed_work

pytestmark = pytest.mark.usefixtures("backend")

REPO = Path(__file__).resolve().parents[2]
CASES = sorted((REPO / "tests" / "cases" / "views").glob("*.toml"))
LOADED_AT = dt.datetime(2026, 1, 1, 12, 0)
NULL = "NULL"


def catalog_with(catalog: Catalog, extra: list[dict]) -> Catalog:
    return Catalog(catalog.indicators + tuple(Indicator(**{"min": 0, "max": 1e9, **e}) for e in extra))


def insert_source(con: duckdb.DuckDBPyConnection, row: dict) -> None:
    defaults = {
        "kind": "article",
        "title": row["source_id"],
        "publisher": None,
        "published_on": None,
        "published_precision": "day",
        "url": None,
        "licence": None,
        "sha256": "0" * 64,
        "retrieved_at": LOADED_AT,
        "pipeline": "case",
        "precedence": 30,
        "file_name": None,
    }
    values = {**defaults, **row}
    columns = ", ".join(values)
    con.execute(f"INSERT INTO sources ({columns}) VALUES ({', '.join('?' * len(values))})", list(values.values()))


def insert_observation(con: duckdb.DuckDBPyConnection, row: dict, catalog: Catalog, case: str) -> None:
    row = dict(row)
    if "period" in row:
        start, end = (dt.date.fromisoformat(d) for d in row.pop("period").split("/"))
        row.setdefault("year", start.year)
    else:
        start, end = dt.date(row["year"], 1, 1), dt.date(row["year"], 12, 31)
    defaults = {
        "period_start": start,
        "period_end": end,
        "unit": catalog[row["indicator_id"]].unit,
        "qualifier": "exact",
        "is_partial": False,
        "as_of": None,
        "method": "parsed",
        "evidence": f"case {case}",
        "note": None,
        "pipeline": "case",
        "run_id": "case",
        "valid_from": LOADED_AT,
        "valid_to": None,
    }
    values = {**defaults, **row}
    columns = ", ".join(values)
    insert_history(con, f"({columns}) VALUES ({', '.join('?' * len(values))})", list(values.values()))


def build_warehouse(con: duckdb.DuckDBPyConnection, case: dict, catalog: Catalog, name: str) -> None:
    """A new warehouse with the real migrations, rules and views, holding only the case's rows."""
    apply_migrations(con, REPO / "warehouse" / "migrations")
    full_catalog = catalog_with(catalog, case.get("indicators", []))
    sync_indicators(con, full_catalog)
    sync_alert_rules(con, load_alert_rules(REPO / "schemas" / "alert_rules.toml"))
    apply_views(con, REPO / "warehouse" / "views")
    if "today" in case:
        con.execute(f"CREATE OR REPLACE VIEW alert_clock AS SELECT DATE '{case['today']}' AS today")
    for source in case.get("sources", []):
        insert_source(con, source)
    for observation in case.get("observations", []):
        insert_observation(con, observation, full_catalog, name)
    # Rows written straight into the table: list the periods several sources state and store the alert findings,
    # as the engine's writers do.
    periods_gained(con, "SELECT * FROM observation_history WHERE valid_to IS NULL", source_ids=[])
    store_alert_findings(con)


def same_cell(actual, expected) -> bool:
    if expected == NULL:
        return actual is None
    if isinstance(expected, float) or isinstance(actual, float):
        return actual is not None and actual == pytest.approx(expected, rel=1e-6, abs=1e-9)
    if isinstance(actual, (dt.date, dt.datetime)):
        return actual.isoformat() == expected
    return actual == expected


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_view_case(path: Path, catalog: Catalog, settings) -> None:
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    with open_writer(settings) as con:
        build_warehouse(con, case, catalog, path.stem)
        check_expectations(con, case, path)


def check_expectations(con: duckdb.DuckDBPyConnection, case: dict, path: Path) -> None:
    for n, expect in enumerate(case["expect"], start=1):
        columns = expect["columns"]
        where = f"WHERE {expect['where']}" if "where" in expect else ""
        order = expect.get("order_by", ", ".join(columns))
        rows = con.execute(f"SELECT {', '.join(columns)} FROM {expect['view']} {where} ORDER BY {order}").fetchall()
        label = f"{path.name} expect #{n} ({expect['view']})"
        assert len(rows) == len(expect["rows"]), (
            f"{label}: {len(rows)} rows, expected {len(expect['rows'])}:\n" + "\n".join(map(repr, rows))
        )
        for actual, wanted in zip(rows, expect["rows"]):
            mismatched = [c for c, a, w in zip(columns, actual, wanted) if not same_cell(a, w)]
            assert not mismatched, (
                f"{label}: columns {mismatched} differ:\n  got      {actual!r}\n  expected {tuple(wanted)!r}"
            )


def findings(con: duckdb.DuckDBPyConnection, relation: str = "stored_alert_findings") -> list[tuple]:
    return con.execute(f"SELECT * FROM {relation} ORDER BY ALL").fetchall()


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_findings_stored_by_series_are_those_computed_at_once(
    path: Path, catalog: Catalog, settings, backend: str
) -> None:
    """A write stores again the findings of the series it touched only (and a source's revisions): stored that way,
    one series at a time, all series at once, or one source at a time, they must be every finding as the full
    recompute stores it and as alert_findings computes it now, to the last column. (One series at a time on the
    file only: the same SQL, and each commit on a lake costs a catalog round trip.)"""
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    with open_writer(settings) as con:
        build_warehouse(con, case, catalog, path.stem)
        at_once = findings(con)
        assert at_once, f"{path.name}: no finding to compare"
        assert findings(con, "alert_findings") == at_once
        every_series = "SELECT DISTINCT indicator_id, geo, source_id FROM observation_history"
        one_by_one = con.execute(f"{every_series} ORDER BY ALL").fetchall() if backend == "file" else []
        for indicator_id, geo, source_id in one_by_one:
            # Each series stored again from a table of findings that lacks it and holds a wrong one in its place.
            con.execute("DELETE FROM stored_alert_findings WHERE indicator_id = ? AND geo = ?", [indicator_id, geo])
            con.execute(
                "INSERT INTO stored_alert_findings BY NAME SELECT 'record' AS check_name, ? AS indicator_id, "
                "? AS geo, 1900 AS year, 1.0 AS measure",
                [indicator_id, geo],
            )
            series_changed(con, "SELECT ? AS indicator_id, ? AS geo, ? AS source_id", [indicator_id, geo, source_id])
            settle_owed_work(con)
        assert findings(con) == at_once
        con.execute("DELETE FROM stored_alert_findings")
        series_changed(con, every_series)
        settle_owed_work(con)
        assert findings(con) == at_once
        for (source_id,) in con.execute("SELECT DISTINCT source_id FROM observation_history").fetchall():
            # A source's record changed: its revision findings are stored again (here, from wrong measures).
            con.execute(
                "UPDATE stored_alert_findings SET measure = -1 WHERE check_name = 'revision' AND source_ids[1] = ?",
                [source_id],
            )
            source_changed(con, source_id)
            settle_owed_work(con)
        assert findings(con) == at_once


@pytest.mark.one_backend
def test_every_case_expects_something() -> None:
    assert CASES, "no view cases found"
    for path in CASES:
        case = tomllib.loads(path.read_text(encoding="utf-8"))
        assert case.get("description") and case.get("expect"), f"{path.name}: needs a description and [[expect]]"


@pytest.mark.parametrize("case_name", ["antwerp_seizures", "index_edition_conflicts"])
def test_a_querys_list_of_series_ids_reads_the_versions_and_conflicts_a_value_list_reads(
    case_name: str, catalog: Catalog, settings
) -> None:
    """The checks hand the versions' macro a list of series ids either as a value or as a query's result, known only
    as the query runs (the conflicts of a few series, every part of many): short, long or empty, both must read the
    same versions, and the conflicts of a few series must be theirs in source_conflicts."""
    path = REPO / "tests" / "cases" / "views" / f"{case_name}.toml"
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    with open_writer(settings) as con:
        build_warehouse(con, case, catalog, path.stem)
        ids = [r[0] for r in con.execute("SELECT series_id FROM series_keys ORDER BY series_id").fetchall()]
        conflicting = con.execute(
            "SELECT list(DISTINCT k.series_id ORDER BY k.series_id) FROM source_conflicts JOIN series_keys AS k "
            "USING (indicator_id, geo)"
        ).fetchone()[0]
        assert conflicting, f"{path.name}: no source conflict to compare"
        # Absent ids past the greatest lengthen a list beyond the 128 a list searched row by row takes.
        for wanted in ([], ids[:1], conflicting, ids, ids + list(range(max(ids) + 1, max(ids) + 200))):
            versions = "SELECT * FROM stored_versions_in({}) ORDER BY version_rowid"
            as_value = con.execute(versions.format("?::BIGINT[]"), [wanted]).fetchall()
            as_query = con.execute(versions.format("(SELECT ?::BIGINT[])"), [wanted]).fetchall()
            assert as_query == as_value
            assert len({row[0] for row in as_value}) == len(set(wanted) & set(ids))
        conflicts = "SELECT * FROM source_conflicts_in({}) ORDER BY ALL"
        few = con.execute(conflicts.format("?::BIGINT[]"), [conflicting[:1]]).fetchall()
        assert (
            few
            == con.execute(
                "SELECT c.* FROM source_conflicts AS c JOIN series_keys AS k USING (indicator_id, geo) "
                "WHERE k.series_id = ? ORDER BY ALL",
                [conflicting[0]],
            ).fetchall()
        )
        assert few
