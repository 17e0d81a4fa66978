"""Validation before anything is loaded: the canonical Pandera model, then the catalog's units and ranges."""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import importlib.machinery
import json
import operator
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

from octracker.content.catalog import Catalog
from octracker.errors import SpecError
from octracker.extract.publishers.codes import NATIVE_PROVIDERS
from octracker.extracts import Problem

#: Reported per check at most; the count of the rest is still reported.
MAX_PROBLEMS_PER_CHECK = 200
#: From this many rows on, the unique key and the catalog are first checked in aggregate (see below).
QUICK_CHECK_ROWS = 50_000
#: Below this many rows the contract's checks run on Polars' in-memory engine: Pandera runs a query per check (about
#: 70), which the default (streaming) engine starts at twice the cost. From a few thousand rows on the streaming engine
#: is the faster (100 rows: 7-8 ms against 13-18 ms; 10,000 rows: 23 ms against 17 ms).
IN_MEMORY_BELOW_ROWS = 2_000


@functools.cache
def load_pandera() -> None:
    """Import Pandera's Polars API and the built-in checks its first validation registers, without Hypothesis, and
    the engine's `str_matches` in place of Pandera's (`octracker.extract.contract_checks`).

    Pandera imports Hypothesis, when it is installed, for generating example data from a schema, which the
    engine never does: 0.1-0.3 s of every load's first check where the test tools are installed. Only the thread
    importing Pandera goes without it (often `warm_up_contract`'s, beside other work): another thread may import
    Hypothesis meanwhile. A process that already holds Hypothesis (a test run) keeps it as it is.
    """
    with imports_refused_in_this_thread("hypothesis"):
        import pandera.backends.polars.builtin_checks  # noqa: F401 - registered on first use otherwise
        import pandera.polars  # noqa: F401

        # After Pandera's own built-in checks: this one takes the place of theirs for polars data.
        import octracker.extract.contract_checks  # noqa: F401


class _RefusedInThread:
    """A finder of `sys.meta_path` that finds no module of package `name` (nor the package) for imports made by one
    thread, and leaves every other import to the finders after it."""

    def __init__(self, name: str, thread: int) -> None:
        self.name, self.thread = name, thread

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if threading.get_ident() == self.thread and fullname.partition(".")[0] == self.name:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


@contextlib.contextmanager
def imports_refused_in_this_thread(name: str) -> Iterator[None]:
    """An import of package `name` not yet imported fails in this thread, as if it were not installed, for the
    block; in any other thread, and after it, the package imports as it would have."""
    finder = _RefusedInThread(name, threading.get_ident())
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


#: Held while the contract is loaded: by the first check, or by `warm_up_contract` in a thread before it.
_CONTRACT_LOADING = threading.Lock()


def load_schema_module(schemas_dir: Path) -> ModuleType:
    """Import `schemas/observation.py` by path: the data contract is project content, not engine code.

    The module made is kept by the file's bytes, not by its path: a process that runs for days (the scheduler) checks
    each load against the contract as the file holds it then, after a data engineer edits it too. The file is read
    once, and the bytes compared are the bytes run.
    """
    path = schemas_dir / "observation.py"
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: the canonical observation model is missing") from None
    with _CONTRACT_LOADING:
        return _schema_module(path, source)


def warm_up_contract(schemas_dir: Path) -> None:
    """Load the contract's Pandera model (and Pandera) ahead of a file's first check, in a thread of its own (see
    `octracker.load.pipeline.start_contract_warm_up`).

    Importing them takes 0.2-0.3 s of Python before a file's first check; meanwhile the warehouse is prepared and
    the file read, mostly inside DuckDB and the Rust readers, which let another thread run. The first check
    waits for the contract (`_CONTRACT_LOADING`), then validates as it would have. A model that fails to load fails
    that check, as without this.
    """
    with contextlib.suppress(Exception):
        schema = load_schema_module(schemas_dir).Observation.to_schema()
        schema.register_default_backends(pl.DataFrame)


@functools.cache
def _schema_module(path: Path, source: bytes) -> ModuleType:
    """A new module run from these bytes of the contract file `path`, in `sys.modules` under a name of its own
    (`octracker_contract_observation_` and the bytes' sha256): Pandera finds the model's annotations in the module
    its class names, also when another thread builds its schema after the file has changed. A module that fails to
    run is not left there."""
    load_pandera()
    name = f"octracker_contract_observation_{hashlib.sha256(source).hexdigest()[:16]}"
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except BaseException:
        if sys.modules.get(name) is module:
            del sys.modules[name]
        raise
    return module


def _row_payload(frame: pl.DataFrame, index: int) -> tuple[int | None, str]:
    row = frame.row(index, named=True)
    raw = row.get("_raw")
    payload = (
        raw
        if raw is not None
        else json.dumps({k: v for k, v in row.items() if not k.startswith("_")}, default=str, ensure_ascii=False)
    )
    return row.get("_line_no"), payload


def check_contract(
    frame: pl.DataFrame, schemas_dir: Path, *, quick_from: int = QUICK_CHECK_ROWS, key_checked: bool = False
) -> list[Problem]:
    """Problems the canonical Pandera model finds, one per failing row and check (`key_checked`: but for
    repeated keys, which the caller looks for over more rows than the frame's)."""
    contract = load_schema_module(schemas_dir)
    schema = contract.Observation.to_schema()
    key = [schema.unique] if isinstance(schema.unique, str) else list(schema.unique or [])
    # Pandera finds duplicate keys row by row (most of its time on ten million rows); a key proven
    # unique by hashing needs no such search. Every other check of the model runs as declared.
    # Only already-typed keys qualify: coercion could make two distinct raw keys equal.
    typed = all(c in frame.columns and frame.schema[c] == schema.columns[c].dtype.type for c in key)
    if key and typed and (key_checked or frame.height >= quick_from and key_proven_unique(frame, key)):
        schema = _without_key_check(contract)
    import pandera.errors  # loaded with the model by load_schema_module

    try:
        with small_frame_engine(frame):
            schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return _problems_from_failures(frame, exc.failure_cases)
    return []


def small_frame_engine(frame: pl.DataFrame) -> contextlib.AbstractContextManager[Any]:
    """Polars' in-memory engine for the queries of the block when the frame is small (IN_MEMORY_BELOW_ROWS).

    Polars' engine setting is the process's: a query another thread runs meanwhile takes the same engine, whose
    answer is the same (only its cost differs)."""
    if frame.height < IN_MEMORY_BELOW_ROWS:
        return pl.Config(set_engine_affinity="in-memory")
    return contextlib.nullcontext()


@functools.cache
def _without_key_check(contract: ModuleType) -> Any:
    """The contract's schema without its unique-key check, made once per contract module (see `load_schema_module`):
    a copy per check cost a table read in batches 0.2 s of Python (41 batches of ten million rows)."""
    schema = copy.deepcopy(contract.Observation.to_schema())
    schema.unique = None
    return schema


def key_proven_unique(frame: pl.DataFrame | pl.LazyFrame, key: list[str]) -> bool:
    """True when the key columns hash to as many distinct values as there are rows: no two rows share a key.

    Distinct hashes prove distinct keys; the converse needs the exact (much slower) search, so a False
    here only means "search". A LazyFrame (filtered, say) is judged without being materialised.
    """
    return unique_hashes(key_hashes_of(frame, key))


def key_hashes_of(frame: pl.DataFrame | pl.LazyFrame, key: list[str]) -> pl.Series:
    """One hash per row of its key columns: equal keys hash equal (see `key_proven_unique`).

    The hashes of a table's parts, concatenated, judge the whole table as its own would."""
    # Any function of the key proves it: this one combines the columns' own hashes (seeded apart), computed
    # lazily so that polars spreads the work over the cores (10M rows: 1.2 s as one struct hash, eagerly).
    combined = functools.reduce(operator.xor, (pl.col(c).hash(seed) for seed, c in enumerate(key, start=1)))
    return frame.lazy().select(combined.alias("key_hash")).collect().to_series()


def unique_hashes(hashes: pl.Series) -> bool:
    """Whether no two of these key hashes are equal (so no two keys are)."""
    # The distinct count runs on the collected hashes: 0.18 s for 10M, against 0.4 s inside the lazy query.
    return hashes.n_unique() == hashes.len()


def _problems_from_failures(frame: pl.DataFrame, failures: pl.DataFrame) -> list[Problem]:
    problems: list[Problem] = []
    per_check: dict[str, int] = {}
    for case in failures.iter_rows(named=True):
        check = f"{case['column']}: {case['check']}" if case["schema_context"] == "Column" else str(case["check"])
        per_check[check] = per_check.get(check, 0) + 1
        if per_check[check] > MAX_PROBLEMS_PER_CHECK:
            continue
        index = case.get("index")
        if index is None:
            problems.append(Problem(check=check, message=f"{check} (value {case['failure_case']!r})", payload=""))
            continue
        line_no, payload = _row_payload(frame, int(index))
        problems.append(
            Problem(check=check, message=f"{check}: got {case['failure_case']!r}", payload=payload, line_no=line_no)
        )
    problems.extend(
        Problem(check=check, message=f"{check}: {n - MAX_PROBLEMS_PER_CHECK} more rows fail this check", payload="")
        for check, n in per_check.items()
        if n > MAX_PROBLEMS_PER_CHECK
    )
    return problems


def catalog_limits(catalog: Catalog) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "indicator_id": [i.id for i in catalog.indicators],
            "_unit": [i.unit for i in catalog.indicators],
            "_min": [float(i.min) for i in catalog.indicators],
            "_max": [float(i.max) for i in catalog.indicators],
        },
        schema={"indicator_id": pl.String, "_unit": pl.String, "_min": pl.Float64, "_max": pl.Float64},
    )


def catalog_holds(frame: pl.DataFrame | pl.LazyFrame, limits: pl.DataFrame) -> bool:
    """True when every (indicator, unit) is known, in its unit, and its lowest and highest values in range.

    `frame` has `indicator_id`, `unit` and `value`; a LazyFrame is judged without being materialised.
    """
    bad = (
        pl.col("_unit").is_null()
        | (pl.col("unit") != pl.col("_unit"))
        | (pl.col("_lo") < pl.col("_min"))
        | (pl.col("_hi") > pl.col("_max"))
    )
    failing = (
        frame.lazy()
        .group_by("indicator_id", "unit")
        .agg(pl.col("value").min().alias("_lo"), pl.col("value").max().alias("_hi"))
        .join(limits.lazy(), on="indicator_id", how="left")
        .filter(bad.fill_null(True))
        .select(pl.len())
    )
    return failing.collect().item() == 0


def check_catalog(frame: pl.DataFrame, catalog: Catalog, *, quick_from: int = QUICK_CHECK_ROWS) -> list[Problem]:
    """Indicators must be in the catalog, in its unit and within its range; a publisher's native series
    (`estat.…`, `cbs.…`, `unodc.…` not in the catalog) keeps the publisher's unit and is not checked here."""
    limits = catalog_limits(catalog)
    native = pl.col("indicator_id").str.contains(f"^({'|'.join(NATIVE_PROVIDERS)})\\.[^.]+\\.")
    frame = frame.filter(~(native & ~pl.col("indicator_id").is_in(limits["indicator_id"].to_list())))
    if frame.height >= quick_from and catalog_holds(frame, limits):
        return []
    joined = frame.with_row_index("_index").join(limits, on="indicator_id", how="left")
    rules = [
        (
            "unknown_indicator",
            pl.col("_unit").is_null(),
            lambda r: f"indicator {r['indicator_id']!r} is not in schemas/indicators.toml; add it there first",
        ),
        (
            "unit_mismatch",
            pl.col("_unit").is_not_null() & (pl.col("unit") != pl.col("_unit")),
            lambda r: f"{r['indicator_id']} is measured in {r['_unit']!r}, not {r['unit']!r}",
        ),
        (
            "out_of_range",
            pl.col("_unit").is_not_null() & ((pl.col("value") < pl.col("_min")) | (pl.col("value") > pl.col("_max"))),
            lambda r: f"{r['indicator_id']} = {r['value']} is outside its range {r['_min']:g}–{r['_max']:g}",
        ),
    ]
    problems = []
    for check, condition, describe in rules:
        bad = joined.filter(condition)
        for row in bad.head(MAX_PROBLEMS_PER_CHECK).iter_rows(named=True):
            line_no, payload = _row_payload(frame, row["_index"])
            problems.append(Problem(check=check, message=describe(row), payload=payload, line_no=line_no))
        if bad.height > MAX_PROBLEMS_PER_CHECK:
            problems.append(
                Problem(
                    check=check, message=f"{bad.height - MAX_PROBLEMS_PER_CHECK} more rows fail {check}", payload=""
                )
            )
    return problems


def validate_observations(
    frame: pl.DataFrame,
    catalog: Catalog,
    schemas_dir: Path,
    *,
    quick_from: int = QUICK_CHECK_ROWS,
    key_checked: bool = False,
    catalog_checked: bool = False,
) -> list[Problem]:
    """Every problem with a frame of canonical rows; an empty list means it may be loaded.

    On large frames the unique key and the catalog are first checked in aggregate; only a frame that
    may have problems there is searched row by row (the same checks, which then name every failing row).
    `key_checked`: the frame is a part of a table whose reader looks for repeated keys over all of it (see
    `octracker.extract.long_table.long_table_batches`), so the frame's own are not looked for. `catalog_checked`:
    its reader checked every row's indicator, unit and value against the catalog, and refuses the table when one
    fails (the same checks), so they are not run again.
    """
    problems = check_contract(frame, schemas_dir, quick_from=quick_from, key_checked=key_checked)
    # Catalog checks assume well-typed columns; a frame the contract refused is refused already.
    return problems or ([] if catalog_checked else check_catalog(frame, catalog, quick_from=quick_from))
