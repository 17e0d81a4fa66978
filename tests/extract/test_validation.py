"""Validation of canonical rows: large frames take the aggregate route and report exactly what the full one does."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import threading

import polars as pl
import pytest

from conftest import REPO
from octracker.extract.validation import (
    check_contract,
    imports_refused_in_this_thread,
    key_proven_unique,
    load_pandera,
    load_schema_module,
    validate_observations,
)


def frame(n: int = 2_000) -> pl.DataFrame:
    """n valid annual values of one index indicator for BE: 200 years (1901-2100) from each of n / 200 sources."""
    return (
        pl.DataFrame({"i": pl.int_range(n, eager=True)})
        .with_columns(year=1901 + pl.col("i") % 200)
        .select(
            indicator_id=pl.lit("oci.cocaine_trade"),
            geo=pl.lit("BE"),
            period_start=pl.date(pl.col("year"), 1, 1),
            period_end=pl.date(pl.col("year"), 12, 31),
            year=pl.col("year").cast(pl.Int32),
            value=pl.lit(5.0),
            unit=pl.lit("score"),
            qualifier=pl.lit("exact"),
            is_partial=pl.lit(False),
            as_of=pl.lit(None, pl.Date),
            source_id=pl.format("src-{}", pl.col("i") // 200),
            method=pl.lit("parsed"),
            evidence=pl.format("line {}", pl.col("i")),
            note=pl.lit(None, pl.String),
            _line_no=pl.col("i").cast(pl.Int64) + 1,
        )
    )


@pytest.mark.parametrize(
    "broken",
    [
        "duplicate_key",
        "bad_geo",
        "out_of_range",
        "unknown_indicator",
        "unit_mismatch",
        "period_order",
        "port_group_order",
        "port_group_repeat",
        "clean",
    ],
)
def test_large_frames_report_the_same_problems_as_the_row_by_row_route(catalog, broken):
    rows = frame()
    if broken == "duplicate_key":
        rows = pl.concat(
            [rows, rows.slice(10, 1).with_columns(evidence=pl.lit("again"), _line_no=pl.lit(2001, pl.Int64))]
        )
    elif broken == "bad_geo":
        rows = rows.with_columns(geo=pl.when(pl.col("_line_no") == 7).then(pl.lit("be")).otherwise("geo"))
    elif broken == "out_of_range":
        rows = rows.with_columns(value=pl.when(pl.col("_line_no") == 7).then(11.0).otherwise("value"))
    elif broken == "unknown_indicator":
        rows = rows.with_columns(
            indicator_id=pl.when(pl.col("_line_no") == 7).then(pl.lit("oci.nope")).otherwise("indicator_id")
        )
    elif broken == "unit_mismatch":
        rows = rows.with_columns(unit=pl.when(pl.col("_line_no") == 7).then(pl.lit("count")).otherwise("unit"))
    elif broken.startswith("port_group"):
        group = "BEZEE+BEANR" if broken == "port_group_order" else "BEANR+BEANR"
        rows = rows.with_columns(
            geo=pl.when(pl.col("_line_no") == 7)
            .then(pl.lit(group))
            .when(pl.col("_line_no") == 8)
            .then(pl.lit("BEANR+BEZEE"))
            .otherwise("geo")
        )
    elif broken == "period_order":
        rows = rows.with_columns(
            period_start=pl.when(pl.col("_line_no") == 7).then(pl.date(2100, 1, 1)).otherwise("period_start")
        )
    quick = validate_observations(rows, catalog, REPO / "schemas", quick_from=1)
    full = validate_observations(rows, catalog, REPO / "schemas", quick_from=10**9)
    assert quick == full
    assert [p.line_no for p in quick] == ([] if broken == "clean" else [11, 2001] if broken == "duplicate_key" else [7])


def test_a_key_is_proven_unique_only_when_it_is():
    rows = frame()
    key = ["indicator_id", "geo", "period_start", "period_end", "source_id"]
    assert key_proven_unique(rows, key)
    assert not key_proven_unique(pl.concat([rows, rows.head(1)]), key)
    # NULL periods are one key, as the warehouse treats them.
    unknown = rows.head(2).with_columns(
        period_start=pl.lit(None, pl.Date), period_end=pl.lit(None, pl.Date), year=pl.lit(None, pl.Int32)
    )
    assert not key_proven_unique(unknown, key)


def test_a_package_refused_to_the_thread_loading_pandera_still_imports_in_other_threads(tmp_path, monkeypatch):
    """Pandera is loaded without Hypothesis (`load_pandera`), often in a thread beside other work: the package is
    refused to that thread alone, and only while it loads Pandera."""
    (tmp_path / "octracker_probe_pkg").mkdir()
    (tmp_path / "octracker_probe_pkg" / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    (tmp_path / "octracker_probe_pkg" / "part.py").write_text("VALUE = 2\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("octracker_probe_pkg", "octracker_probe_pkg.part"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    elsewhere: list[object] = []

    def import_elsewhere() -> None:
        elsewhere.append(importlib.import_module("octracker_probe_pkg.part").VALUE)

    with imports_refused_in_this_thread("octracker_probe_pkg"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("octracker_probe_pkg.part")
        other = threading.Thread(target=import_elsewhere)
        other.start()
        other.join()
        assert elsewhere == [2]
    # Once imported elsewhere, and after the block, it is what it always was.
    assert importlib.import_module("octracker_probe_pkg").VALUE == 1


def pandera_own_str_matches(monkeypatch) -> None:
    """Pandera's own `str_matches` for polars data, in place of the engine's (`octracker.extract.contract_checks`)."""
    import pandera.backends.polars.builtin_checks as builtin
    from pandera.api.checks import Check
    from pandera.api.polars.types import PolarsData

    load_pandera()
    monkeypatch.setitem(
        Check.CHECK_FUNCTION_REGISTRY["str_matches"]._function_registry, PolarsData, builtin.str_matches
    )


@pytest.mark.parametrize(("geo", "flags"), [("BE", "p"), ("be", "p"), ("BE+NL", "P"), (None, None), ("BE", "")])
def test_a_pattern_judged_once_per_distinct_value_reports_each_failing_row_as_pandera_does(monkeypatch, geo, flags):
    # Row 7's place and flags; the other rows' flags are null or 'p'.
    rows = frame().with_columns(
        geo=pl.when(pl.col("_line_no") == 7).then(pl.lit(geo)).otherwise("geo"),
        flags=pl.when(pl.col("_line_no") == 7).then(pl.lit(flags)).when(pl.col("_line_no") > 1000).then(pl.lit("p")),
    )
    engine = check_contract(rows, REPO / "schemas")
    pandera_own_str_matches(monkeypatch)
    assert engine == check_contract(rows, REPO / "schemas")
    assert [p.line_no for p in engine] == ([] if geo == "BE" and flags == "p" else [7] * (2 if flags == "P" else 1))


def test_a_pattern_check_that_refuses_nulls_still_refuses_them(monkeypatch):
    import pandera.errors
    import pandera.polars as pa

    load_pandera()
    schema = pa.DataFrameSchema(
        {"code": pa.Column(str, pa.Check.str_matches("^[a-z]+$", ignore_na=False), nullable=True)}
    )
    rows = pl.DataFrame({"code": ["ab", None, "cd", None]})

    def failing(rows: pl.DataFrame) -> list[tuple]:
        with pytest.raises(pandera.errors.SchemaErrors) as raised:
            schema.validate(rows, lazy=True)
        return raised.value.failure_cases.select("index", "failure_case").rows()

    engine = failing(rows)
    pandera_own_str_matches(monkeypatch)
    assert engine == failing(rows) == [(1, None), (3, None)]


def test_a_small_frame_is_checked_on_the_in_memory_engine_with_the_same_problems_and_the_setting_restored(catalog):
    """Pandera runs a query per check: a small frame's run on Polars' in-memory engine, at half the cost, and find
    what the default engine finds, row by row; the engine the process had is set back after the check."""
    rows = frame(100).with_columns(
        geo=pl.when(pl.col("_line_no") == 7).then(pl.lit("be")).otherwise("geo"),
        value=pl.when(pl.col("_line_no") == 9).then(None).otherwise("value"),
    )
    seen: list[str | None] = []
    original = pl.LazyFrame.collect

    def collect(self, *args, **kwargs):
        seen.append(pl.Config.state(if_set=True).get("POLARS_ENGINE_AFFINITY"))
        return original(self, *args, **kwargs)

    with pl.Config(set_engine_affinity="streaming"):
        on_streaming = check_contract(rows, REPO / "schemas", quick_from=10**9)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pl.LazyFrame, "collect", collect)
            small = check_contract(rows, REPO / "schemas", quick_from=10**9)
        assert pl.Config.state(if_set=True).get("POLARS_ENGINE_AFFINITY") == "streaming"
    assert seen and set(seen) == {"in-memory"}
    assert small == on_streaming
    assert sorted({p.line_no for p in small}) == [7, 9]


def test_the_contract_is_kept_by_what_its_file_holds_and_each_check_uses_the_file_as_it_is(tmp_path):
    """A long-lived process (the scheduler) checks rows against `schemas/observation.py` as the file holds it at the
    check: an edit is checked by the next check, by the row-by-row route and by the route whose key was checked
    elsewhere, each model a module of its own in `sys.modules`; a model that fails to run is not kept."""
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    path = schemas / "observation.py"
    original = (REPO / "schemas" / "observation.py").read_text(encoding="utf-8")
    loose, tight = "pa.Field(nullable=False)", "pa.Field(nullable=False, le=4)"  # `value`; the frame's are 5.0
    assert original.count(loose) == 1
    path.write_text(original, encoding="utf-8")
    rows = frame(10)

    def failing_lines(**route) -> list[int | None]:
        return sorted({p.line_no for p in check_contract(rows, schemas, **route)})

    assert failing_lines() == failing_lines(key_checked=True) == []
    first = load_schema_module(schemas)
    assert load_schema_module(schemas) is first and sys.modules[first.__name__] is first

    path.write_text(original.replace(loose, tight), encoding="utf-8")
    assert failing_lines() == failing_lines(key_checked=True) == list(range(1, 11))
    tightened = load_schema_module(schemas)
    assert tightened is not first and sys.modules[tightened.__name__] is tightened

    path.write_text(original.replace("class Observation(pa.DataFrameModel):", "class Observation(:"), "utf-8")
    names = set(sys.modules)
    for _ in range(2):  # each check fails as the first did: nothing of the failed model is kept
        with pytest.raises(SyntaxError, match=r"observation\.py"):
            check_contract(rows, schemas)
        assert set(sys.modules) == names

    path.write_text(original, encoding="utf-8")
    assert failing_lines() == failing_lines(key_checked=True) == []
    assert load_schema_module(schemas) is first
