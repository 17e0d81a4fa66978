"""`make bench`: octracker against a bare DuckDB load and dlt, in one run, as ratios.

    python -m benchmarks.run            # 10M-row table + 1M-row table (2.5-6 minutes on 2 cores)
    python -m benchmarks.run --quick    # 1M + 100k rows, one repeat: a smoke run of the harness

Every measured step is its own process (see `benchmarks.steps`); its peak memory is the child's own
high-water mark (VmHWM, which the step reads at its end; `ru_maxrss` where there is none), its CPU time
the child's user + system time from `os.wait4`. Results go to a table on stdout and to
`benchmarks/data/results.json` (plus `benchmarks/latest_results.json` for the record).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.dataset import (
    ANNUAL,
    CBS,
    CBS_MUNICIPALITIES,
    CBS_REVISED_SHARE,
    DATA_DIR,
    INBOX,
    MONTHLY,
    REPO,
    SIZES,
    SMALL_CHANGE_ROWS,
    YEARLY,
    Feed,
    Size,
    TableFiles,
    cbs_files,
    indicator_ids,
    publisher_files,
    real_edition,
    stage_table,
    table_files,
    write_project,
    write_spec,
)
from benchmarks.startup import compile_sources

RESULTS_FILE = DATA_DIR / "results.json"
#: Publishers' files as recorded (tests/cases/publishers/), loaded whole by `octracker ingest`.
REAL_FILES = {
    "oci_workbook": REPO / "tests/cases/publishers/global-oc-index/global_oc_index.xlsx",
    "eurostat_sdmx_csv": REPO / "tests/cases/publishers/eurostat/sdg_04_20.csv",
    "unodc_xlsx": REPO / "tests/cases/publishers/unodc/data_cts_violent_and_sexual_crime.xlsx",
}
LATEST_FILE = Path(__file__).resolve().parent / "latest_results.json"
#: The table whose first ingest's memory is compared with the big table's (`--only first`).
LARGEST = SIZES["30m"]
#: The table loaded through a spec and through `octracker ingest` by `--only ingest`, per size of the big table.
INGEST_AGAINST_SPEC = {"10m": SIZES["2m"], "1m": SIZES["100k"]}
#: The revised edition of the inbox's table given to `octracker ingest` under another name than the first.
INBOX_RENAMED = dataclasses.replace(INBOX, document="monthly_statistics_2026-02.parquet")


@dataclass
class Measure:
    """One step in one process: wall time of the work, CPU time and peak memory of the process."""

    step: str
    seconds: float
    process_seconds: float
    cpu_seconds: float
    peak_mib: float
    load_before: float
    detail: dict[str, Any] = field(default_factory=dict)


def run_step(step: str, args: dict[str, Any], *, timeout: float = 3600) -> Measure:
    """Run one step in a child interpreter and read its own rusage (not the sum of all children); octracker's byte
    code written beforehand, as an installed package has it (the modules a load imports as it goes are timed)."""
    compile_sources()
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_file = Path(fh.name)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.steps", step, json.dumps(args), str(result_file)], cwd=REPO, env=env
    )
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            raise SystemExit(f"benchmark step {step} took longer than {timeout:.0f} s and was stopped")
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"benchmark step {step} failed (exit {child.returncode}) with {args}")
    detail = json.loads(result_file.read_text(encoding="utf-8"))
    result_file.unlink()
    own_peak = detail.pop("own_peak_mib", None)
    return Measure(
        step=step,
        seconds=detail.pop("seconds"),
        process_seconds=elapsed,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mib=own_peak if own_peak is not None else usage.ru_maxrss / 1024,
        load_before=load_before,
        detail=detail,
    )


@dataclass
class Result:
    """Repeated measures of one named step, summarised by medians."""

    name: str
    measures: list[Measure]

    @property
    def seconds(self) -> float:
        return statistics.median(m.seconds for m in self.measures)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(m.cpu_seconds for m in self.measures)

    @property
    def peak_mib(self) -> float:
        return max(m.peak_mib for m in self.measures)

    @property
    def detail(self) -> dict[str, Any]:
        return self.measures[-1].detail

    def record(self) -> dict[str, Any]:
        return {
            "median_seconds": self.seconds,
            "median_cpu_seconds": self.cpu_seconds,
            "peak_mib": self.peak_mib,
            "runs": [asdict(m) for m in self.measures],
        }


def repeat(name: str, times: int, prepare, step: str, args: dict[str, Any]) -> Result:
    """Run a step `times` times, calling `prepare()` (untimed) before each run."""
    measures = []
    for n in range(times):
        prepare()
        measure = run_step(step, args)
        print(
            f"  {name} #{n + 1}: {measure.seconds:.2f} s, cpu {measure.cpu_seconds:.2f} s, "
            f"peak {measure.peak_mib:.0f} MiB, load {measure.load_before:.1f}",
            flush=True,
        )
        measures.append(measure)
    return Result(name, measures)


def fresh(*paths: Path):
    """A prepare() that removes files or folders so the next run starts from nothing."""

    def prepare() -> None:
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    return prepare


def empty_folder(path: Path):
    """A prepare() that leaves an empty folder at `path`."""

    def prepare() -> None:
        fresh(path)()
        path.mkdir(parents=True)

    return prepare


def save(folder: Path, snapshot: Path) -> None:
    """Keep a copy of a warehouse folder to start later steps from."""
    if snapshot.exists():
        shutil.rmtree(snapshot)
    shutil.copytree(folder, snapshot)


def restore(snapshot: Path, target: Path, *, also=None):
    """A prepare() that puts a saved folder back in place (and runs `also`, e.g. re-pointing the spec).

    The copy is synced to disk before the step: otherwise the step's first fsync (DuckDB's checkpoint, the
    publish) would also write out the hundreds of MB this copy left in the page cache.
    """

    def prepare() -> None:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(snapshot, target)
        if also:
            also()
        os.sync()

    return prepare


class Bench:
    """The folders of one benchmark run and the steps measured in them."""

    def __init__(self, work: Path, repeats: int, *, keep: bool = False) -> None:
        self.work = work
        self.repeats = repeats
        self.keep = keep
        self.results: dict[str, Result] = {}

    def measure(self, name: str, prepare, step: str, args: dict[str, Any], times: int | None = None) -> Result:
        print(f"{name}:", flush=True)
        result = repeat(name, times or self.repeats, prepare, step, args)
        self.results[name] = result
        return result

    def measure_command(self, name: str, prepare, args: dict[str, Any], *, printing: str) -> Result:
        """`octracker refresh PIPELINE` of a step's `args` as its own process, as a user runs it: the whole process's
        wall time and peak, its summary printed (to a file), which must include `printing`."""
        print(f"{name}:", flush=True)
        measures = []
        for n in range(self.repeats):
            prepare()
            measure = run_cli(
                Path(args["project"]), Path(args["warehouse"]), "refresh", args["pipeline"], printing=printing
            )
            print(
                f"  {name} #{n + 1}: {measure.seconds:.2f} s, cpu {measure.cpu_seconds:.2f} s, "
                f"peak {measure.peak_mib:.0f} MiB, load {measure.load_before:.1f}",
                flush=True,
            )
            measures.append(measure)
        self.results[name] = Result(name, measures)
        return self.results[name]

    def given_again(self, name: str, loaded: Path, data: Path, step: str, args: dict[str, Any], *, also=None) -> Path:
        """The warehouse saved in `loaded`, given the same table once more by `step` (after `also()`, which puts the
        table back where the step reads it) and saved again as `name`: the warehouse as a daily refresh finds it,
        every edition step's start. Nothing is new, but the run publishes, so the copy published before the current
        one is kept as the spare that the next publish brings up to date (see `octracker.store.warehouse.publish`);
        a warehouse's first load leaves none, and the publish after it copies the whole file."""
        return self.refreshed_into(name, loaded, data, step, args, also=also)[0]

    def refreshed_into(
        self, name: str, start: Path, data: Path, step: str, args: dict[str, Any], *, also=None
    ) -> tuple[Path, Measure]:
        """The warehouse saved in `start`, refreshed once by `step` in a process of its own (after `also()`, e.g. a
        spec pointed at another table), saved as `name`; with the step's measure, for its counts."""
        saved = self.work / name
        restore(start, data, also=also)()
        measure = run_step(step, args)
        save(data, saved)
        return saved, measure

    def bare(self, label: str, files: TableFiles) -> None:
        db = self.work / f"bare_{label}.duckdb"
        self.measure(f"bare_ctas_{label}", fresh(db), "bare_ctas", {"file": str(files.base), "db": str(db)})
        self.measure(f"bare_insert_{label}", fresh(db), "bare_insert", {"file": str(files.base), "db": str(db)})
        fresh(db)()

    def octracker(self, label: str, files: TableFiles, *, annual: Size | None = None) -> None:
        """First ingest, re-ingest of the same file and of the same rows re-encoded; with an annual
        companion table, also the revised table, the delta of revisions, a small change, and views, alerts
        and one indicator through them over both tables."""
        project = write_project(self.work / f"project_{label}")
        data = self.work / f"warehouse_{label}"
        loaded = self.work / f"warehouse_{label}_loaded"
        with_annual = self.work / f"warehouse_{label}_with_annual"
        warehouse = str(data / "octracker.duckdb")
        args = {"project": str(project), "warehouse": warehouse, "pipeline": MONTHLY.pipeline}

        def point_at(table: Path, full_snapshot: bool = True):
            return lambda: write_spec(project, table, MONTHLY, full_snapshot=full_snapshot)

        point_at(files.base)()
        self.measure(f"ingest_{label}", fresh(data), "octracker_refresh", args)
        save(data, loaded)
        self.measure(
            f"reingest_same_file_{label}", restore(loaded, data, also=point_at(files.base)), "octracker_refresh", args
        )
        self.measure(
            f"reingest_reencoded_{label}",
            restore(loaded, data, also=point_at(files.reencoded)),
            "octracker_refresh",
            args,
        )
        refreshed = self.given_again(
            f"warehouse_{label}_refreshed", loaded, data, "octracker_refresh", args, also=point_at(files.base)
        )
        if annual is None:
            # As many corrections, chosen the same way, into a table a tenth the size: what a small change pays per
            # existing row.
            self.small_change(label, files, project, args, refreshed)
        else:
            # The same edition through `octracker ingest` (target 6) alternates with it, run by run, so that both
            # meet the same machine: measured one after the other, their ratio followed the machine's state.
            self.revised_both_ways(label, project, files, restore(refreshed, data, also=point_at(files.revised)), args)
            self.measure(
                f"revised_delta_{label}",
                restore(refreshed, data, also=point_at(files.delta, full_snapshot=False)),
                "octracker_refresh",
                args,
            )
            self.small_change(label, files, project, args, refreshed)
            # The annual companion, loaded once beside the monthly table: views and alerts read both.
            write_spec(project, table_files(annual).base, YEARLY)
            self.measure(
                f"ingest_annual_beside_{label}",
                restore(loaded, data),
                "octracker_refresh",
                {**args, "pipeline": YEARLY.pipeline},
                times=1,
            )
            save(data, with_annual)
            self.measure(
                f"views_alerts_{label}",
                restore(with_annual, data),
                "octracker_views",
                {"project": str(project), "warehouse": warehouse},
            )
            published = str(with_annual / "published" / "octracker.duckdb")
            self.measure(f"each_view_{label}", lambda: None, "octracker_each_view", {"published": published}, times=1)
            middle = annual.indicators // 2  # an indicator of every size (both tables have as many)
            for view, indicator in (
                ("yoy_changes", indicator_ids(annual.indicators, "annual")[middle]),
                ("series", indicator_ids(annual.indicators, "monthly")[middle]),
            ):
                self.measure(
                    f"query_{view}_{label}",
                    lambda: None,
                    "octracker_query",
                    {"published": published, "view": view, "indicator": indicator},
                    times=1,
                )
        if not self.keep:
            for folder in (data, loaded, refreshed, with_annual):
                shutil.rmtree(folder, ignore_errors=True)

    def small_change(self, label: str, files: TableFiles, project: Path, args: dict[str, Any], refreshed: Path) -> None:
        """What a refresh costs when next to nothing changed: the part of it that follows what exists. A daily feed of
        corrections into the warehouse `refreshed` by `given_again`, its spec the same every day: the day before's
        corrections were loaded (in a process of their own), then the day's are timed as the first refresh of a
        process (`small_change`), as the command a user runs (`_command`), and in the scheduler's process, which
        refreshed the day before's itself (`_scheduled`: the contract and what a load imports already loaded). Each
        load finds the spec's rules those of its last load, as a daily feed does."""
        data = Path(args["warehouse"]).parent
        corrected, day_before = self.refreshed_into(
            f"warehouse_{label}_corrected",
            refreshed,
            data,
            "octracker_refresh",
            args,
            also=lambda: write_spec(project, files.small_change_earlier, MONTHLY, full_snapshot=False),
        )
        if day_before.detail.get("revised") != SMALL_CHANGE_ROWS:
            raise SystemExit(f"the day before's corrections revised {day_before.detail.get('revised')} rows")
        into_corrected = restore(
            corrected, data, also=lambda: write_spec(project, files.small_change, MONTHLY, full_snapshot=False)
        )
        scheduled_args = {
            "project": args["project"],
            "warehouse": args["warehouse"],
            "earlier": str(files.small_change_earlier),
            "table": str(files.small_change),
        }
        # The first refresh of a process and the scheduler's in turn, one run of each per round, so that the
        # difference between them is not the machine's. Both start the day's refresh from the same warehouse.
        print(f"small_change_{label}, small_change_{label}_scheduled (in turn):", flush=True)
        self.alternate(
            (f"small_change_{label}", into_corrected, "octracker_refresh", args),
            (f"small_change_{label}_scheduled", restore(refreshed, data), "octracker_scheduled", scheduled_args),
        )
        self.measure_command(f"small_change_{label}_command", into_corrected, args, printing="Changed values")
        if not self.keep:
            shutil.rmtree(corrected, ignore_errors=True)

    def change_only(self, label: str, files: TableFiles) -> None:
        """The first ingest of the big table (once), then the small change into it: `--only change`."""
        project = write_project(self.work / f"project_{label}")
        data = self.work / f"warehouse_{label}"
        loaded = self.work / f"warehouse_{label}_loaded"
        args = {"project": str(project), "warehouse": str(data / "octracker.duckdb"), "pipeline": MONTHLY.pipeline}
        write_spec(project, files.base, MONTHLY)
        self.measure(f"ingest_{label}", fresh(data), "octracker_refresh", args, times=1)
        save(data, loaded)
        refreshed = self.given_again(
            f"warehouse_{label}_refreshed",
            loaded,
            data,
            "octracker_refresh",
            args,
            also=lambda: write_spec(project, files.base, MONTHLY),
        )
        self.small_change(label, files, project, args, refreshed)
        if not self.keep:
            for folder in (data, loaded, refreshed):
                shutil.rmtree(folder, ignore_errors=True)

    def cbs(self, municipalities: int) -> None:
        """The CBS-like table (`--only cbs`): its bare load, its first ingest, then its next daily edition with
        CBS_REVISED_SHARE of the counts revised, a full snapshot, into the warehouse refreshed once after the first
        load (nothing new), as a daily refresh finds it (target 5: the refresh <= 0.3x the first load)."""
        files = cbs_files(municipalities=municipalities)
        bare = self.work / "bare_cbs.duckdb"
        self.measure("bare_ctas_cbs", fresh(bare), "bare_ctas", {"file": str(files.base), "db": str(bare)})
        fresh(bare)()
        project = write_project(self.work / "project_cbs")
        data = self.work / "warehouse_cbs"
        loaded = self.work / "warehouse_cbs_loaded"
        args = {"project": str(project), "warehouse": str(data / "octracker.duckdb"), "pipeline": CBS.pipeline}
        write_spec(project, files.base, CBS)
        self.measure("ingest_cbs", fresh(data), "octracker_refresh", args)
        save(data, loaded)
        refreshed = self.given_again("warehouse_cbs_refreshed", loaded, data, "octracker_refresh", args)
        self.measure(
            "refresh_revised_cbs",
            restore(refreshed, data, also=lambda: write_spec(project, files.revised, CBS)),
            "octracker_refresh",
            args,
        )
        if not self.keep:
            for folder in (data, loaded, refreshed):
                shutil.rmtree(folder, ignore_errors=True)

    def first_loads(self, *sizes: Size) -> None:
        """The first ingest of tables of growing size against the bare load of each: `--only first` (targets 1, 3)."""
        for size in sizes:
            files = table_files(size)
            bare = self.work / f"bare_{size.name}.duckdb"
            self.measure(f"bare_ctas_{size.name}", fresh(bare), "bare_ctas", {"file": str(files.base), "db": str(bare)})
            project = write_project(self.work / f"project_{size.name}")
            data = self.work / f"warehouse_{size.name}"
            write_spec(project, files.base, MONTHLY)
            args = {"project": str(project), "warehouse": str(data / "octracker.duckdb"), "pipeline": MONTHLY.pipeline}
            self.measure(f"ingest_{size.name}", fresh(data), "octracker_refresh", args)
            self.measure_command(f"ingest_{size.name}_command", fresh(data), args, printing="Changed values")
            if not self.keep:
                fresh(bare, data)()

    def revised_both_ways(
        self, label: str, project: Path, files: TableFiles, to_revised_spec, spec_args: dict[str, Any]
    ) -> None:
        """The table with 10 % revised through its spec (`revised_full_table`, after `to_revised_spec()`) and through
        `octracker ingest`, as a user without a spec would give it: the table first given to the command once
        (`ingest_command`) and once more (`given_again`), then its edition (`ingest_command_revised`), in turn with
        the spec's."""
        data = self.work / f"warehouse_{label}_ingest"
        loaded = self.work / f"warehouse_{label}_ingest_loaded"
        staging = self.work / f"staging_{label}"
        args = self.ingest_command_args(project, data, staging)
        stage_table(staging, files.base)
        self.measure(f"ingest_command_{label}", fresh(data), "octracker_ingest", args, times=1)
        save(data, loaded)
        refreshed = self.given_again(
            f"warehouse_{label}_ingest_refreshed",
            loaded,
            data,
            "octracker_ingest",
            args,
            also=lambda: stage_table(staging, files.base),
        )
        self.alternate(
            (f"revised_full_table_{label}", to_revised_spec, "octracker_refresh", spec_args),
            (
                f"ingest_command_revised_{label}",
                restore(refreshed, data, also=lambda: stage_table(staging, files.revised)),
                "octracker_ingest",
                args,
            ),
        )
        if not self.keep:
            for folder in (data, loaded, refreshed, staging):
                shutil.rmtree(folder, ignore_errors=True)

    def ingest_command_args(self, project: Path, data: Path, staging: Path, feed: Feed = INBOX) -> dict[str, Any]:
        """The arguments of an `octracker_ingest` step: the table staged in `staging`, the warehouse in `data`."""
        return {
            "project": str(project),
            "warehouse": str(data / "octracker.duckdb"),
            "file": str(staging / feed.document),
        }

    def ingest_against_spec(self, size: Size) -> None:
        """`--only ingest`: one table and its edition with 10 % revised, through a spec and through `octracker ingest`
        (target 6), with the bare load of the table. Each way's first load runs once; the revised loads alternate, run
        by run, so that all meet the same load of the machine: through the spec, through `octracker ingest` under the
        first file's name, and under another name (an office's export named by its date)."""
        label, files = size.name, table_files(size)
        self.measure(
            f"bare_ctas_{label}",
            fresh(self.work / "bare.duckdb"),
            "bare_ctas",
            {"file": str(files.base), "db": str(self.work / "bare.duckdb")},
        )
        fresh(self.work / "bare.duckdb")()
        project = write_project(self.work / f"project_{label}")
        by_spec, by_spec_loaded = self.work / f"warehouse_{label}", self.work / f"warehouse_{label}_loaded"
        by_ingest, by_ingest_loaded = (
            self.work / f"warehouse_{label}_ingest",
            self.work / f"warehouse_{label}_ingest_loaded",
        )
        staging = self.work / f"staging_{label}"
        spec_args = {
            "project": str(project),
            "warehouse": str(by_spec / "octracker.duckdb"),
            "pipeline": MONTHLY.pipeline,
        }
        ingest_args = self.ingest_command_args(project, by_ingest, staging)
        renamed_args = self.ingest_command_args(project, by_ingest, staging, INBOX_RENAMED)
        write_spec(project, files.base, MONTHLY)
        self.measure(f"ingest_{label}", fresh(by_spec), "octracker_refresh", spec_args, times=1)
        save(by_spec, by_spec_loaded)
        by_spec_refreshed = self.given_again(
            f"warehouse_{label}_refreshed",
            by_spec_loaded,
            by_spec,
            "octracker_refresh",
            spec_args,
            also=lambda: write_spec(project, files.base, MONTHLY),
        )
        stage_table(staging, files.base)
        self.measure(f"ingest_command_{label}", fresh(by_ingest), "octracker_ingest", ingest_args, times=1)
        save(by_ingest, by_ingest_loaded)
        by_ingest_refreshed = self.given_again(
            f"warehouse_{label}_ingest_refreshed",
            by_ingest_loaded,
            by_ingest,
            "octracker_ingest",
            ingest_args,
            also=lambda: stage_table(staging, files.base),
        )
        self.alternate(
            (
                f"revised_full_table_{label}",
                restore(by_spec_refreshed, by_spec, also=lambda: write_spec(project, files.revised, MONTHLY)),
                "octracker_refresh",
                spec_args,
            ),
            (
                f"ingest_command_revised_{label}",
                restore(by_ingest_refreshed, by_ingest, also=lambda: stage_table(staging, files.revised)),
                "octracker_ingest",
                ingest_args,
            ),
            (
                f"ingest_command_renamed_{label}",
                restore(
                    by_ingest_refreshed, by_ingest, also=lambda: stage_table(staging, files.revised, INBOX_RENAMED)
                ),
                "octracker_ingest",
                renamed_args,
            ),
        )
        if not self.keep:
            for folder in (
                by_spec,
                by_spec_loaded,
                by_spec_refreshed,
                by_ingest,
                by_ingest_loaded,
                by_ingest_refreshed,
                staging,
            ):
                shutil.rmtree(folder, ignore_errors=True)

    def real_sources(self) -> None:
        """Publishers' own files, each given to `octracker ingest` in a project that has the real catalog and no
        pipelines (whose sources they would otherwise be), as the whole `octracker ingest` process: into a new
        warehouse (`real_<name>`), into a warehouse that already holds the file (`real_<name>_again`: the same file
        again, as a daily refresh finds it) and a new edition of it (`real_<name>_edition`: one value in 20 revised);
        and inside a step process with the time of each hop, into a new warehouse and for the new edition."""
        project = write_project(self.work / "project_real", synthetic_catalog=False)
        data = self.work / "warehouse_real"
        loaded = self.work / "warehouse_real_loaded"
        warehouse = data / "octracker.duckdb"
        for name, file in REAL_FILES.items():
            edition = real_edition(file)
            self.whole_ingests(f"real_{name}", fresh(data), project, warehouse, file)
            fresh(data)()
            run_cli(project, warehouse, "ingest", str(file))
            save(data, loaded)
            self.whole_ingests(f"real_{name}_again", restore(loaded, data), project, warehouse, file)
            self.whole_ingests(f"real_{name}_edition", restore(loaded, data), project, warehouse, edition)
            args = {"project": str(project), "warehouse": str(warehouse)}
            self.measure(f"real_{name}_hops", fresh(data), "octracker_ingest", {**args, "file": str(file)})
            self.measure(
                f"real_{name}_edition_hops", restore(loaded, data), "octracker_ingest", {**args, "file": str(edition)}
            )
        for folder in (data, loaded):
            shutil.rmtree(folder, ignore_errors=True)

    def whole_ingests(self, name: str, prepare, project: Path, warehouse: Path, file: Path) -> None:
        """`octracker ingest FILE` as a whole process, `repeats` times, each after `prepare()`."""
        measures = []
        print(f"{name}:", flush=True)
        for n in range(self.repeats):
            prepare()
            measures.append(run_cli(project, warehouse, "ingest", str(file)))
            m = measures[-1]
            print(f"  {name} #{n + 1}: {m.seconds:.2f} s, cpu {m.cpu_seconds:.2f} s, load {m.load_before:.1f}")
        self.results[name] = Result(name, measures)

    def publisher_formats(self) -> None:
        """1M observations as Eurostat's SDMX-CSV and JSON-stat: `octracker ingest` against dlt's merge of the file."""
        project = write_project(self.work / "project_publishers", synthetic_catalog=False)
        data = self.work / "warehouse_publishers"
        state = self.work / "dlt_publishers"
        for fmt, file in publisher_files().items():
            key = ("indic", "geo", "time" if fmt == "jsonstat" else "TIME_PERIOD")
            self.alternate(
                (
                    f"publisher_{fmt}",
                    fresh(data),
                    "octracker_ingest",
                    {"project": str(project), "warehouse": str(data / "octracker.duckdb"), "file": str(file)},
                ),
                (
                    f"dlt_{fmt}",
                    empty_folder(state),
                    "dlt_merge",
                    {
                        "file": str(file),
                        "reader": "jsonstat" if fmt == "jsonstat" else "csv",
                        "key": key,
                        "db": str(state / "dlt_warehouse.duckdb"),
                        "pipelines_dir": str(state / "pipelines"),
                    },
                ),
            )
        for folder in (data, state):
            shutil.rmtree(folder, ignore_errors=True)

    def alternate(self, *steps: tuple[str, Any, str, dict[str, Any]]) -> None:
        """Steps measured in turn, one run of each per round, so that each meets the same load on a shared machine:
        each step is (name, prepare, step, args)."""
        measures: dict[str, list[Measure]] = {name: [] for name, *_ in steps}
        for n in range(self.repeats):
            for name, prepare, step, args in steps:
                prepare()
                measures[name].append(run_step(step, args))
                m = measures[name][-1]
                print(
                    f"  {name} #{n + 1}: {m.seconds:.2f} s, cpu {m.cpu_seconds:.2f} s, peak {m.peak_mib:.0f} MiB, "
                    f"load {m.load_before:.1f}",
                    flush=True,
                )
        for name, runs in measures.items():
            self.results[name] = Result(name, runs)

    def against_dlt(self, label: str, files: TableFiles) -> None:
        """`--only dlt`: the first ingest of the table and dlt's merge of it, alternating, then the publishers'
        files against dlt's merge of each (target 4)."""
        project = write_project(self.work / f"project_{label}")
        data = self.work / f"warehouse_{label}"
        state = self.work / f"dlt_{label}"
        write_spec(project, files.base, MONTHLY)
        self.alternate(
            (
                f"ingest_{label}",
                fresh(data),
                "octracker_refresh",
                {"project": str(project), "warehouse": str(data / "octracker.duckdb"), "pipeline": MONTHLY.pipeline},
            ),
            (f"dlt_merge_{label}", empty_folder(state), "dlt_merge", self.dlt_args(files, state)),
        )
        for folder in (data, state):
            shutil.rmtree(folder, ignore_errors=True)
        self.publisher_formats()

    @staticmethod
    def dlt_args(files: TableFiles, state: Path) -> dict[str, Any]:
        return {
            "file": str(files.base),
            "db": str(state / "dlt_warehouse.duckdb"),
            "pipelines_dir": str(state / "pipelines"),
        }

    def dlt(self, label: str, files: TableFiles) -> None:
        state = self.work / f"dlt_{label}"
        snapshot = self.work / f"dlt_{label}_loaded"
        args = self.dlt_args(files, state)
        self.measure(f"dlt_merge_{label}", empty_folder(state), "dlt_merge", args)
        save(state, snapshot)
        self.measure(f"dlt_remerge_same_{label}", restore(snapshot, state), "dlt_merge", args)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(snapshot, ignore_errors=True)

    def end_to_end(self, times: int) -> None:
        """`octracker refresh` over the bundled documents as a whole process: fresh, then nothing new."""
        data = self.work / "e2e"
        for name, prepare in (("e2e_refresh_fresh", fresh(data)), ("e2e_refresh_again", lambda: None)):
            measures = []
            print(f"{name}:", flush=True)
            for n in range(times):
                prepare()
                measures.append(run_cli_refresh(data / "octracker.duckdb"))
                print(
                    f"  {name} #{n + 1}: {measures[-1].seconds:.2f} s, peak {measures[-1].peak_mib:.0f} MiB", flush=True
                )
            self.results[name] = Result(name, measures)
        shutil.rmtree(data, ignore_errors=True)


def generate_tables(*sizes: Size) -> None:
    """Write the missing tables in a child process, so that this one stays small.

    On Linux a child's `ru_maxrss` starts from its parent's peak at the fork: a runner that once held a
    10M-row frame would lend that peak to every step it starts (and to the `octracker refresh` processes,
    whose peak can only be read that way).
    """
    if not sizes:
        return
    names = [size.name for size in sizes]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    code = (
        "import sys\nfrom benchmarks.dataset import SIZES, write_tables\n"
        "for name in sys.argv[1:]:\n    write_tables(SIZES[name])\n"
    )
    subprocess.run([sys.executable, "-c", code, *names], cwd=REPO, env=env, check=True)


def generate_cbs_tables(municipalities: int) -> None:
    """Write the CBS-like tables if missing, in a child process (see `generate_tables`)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    code = (
        "import sys\nfrom benchmarks.dataset import write_cbs_tables\n"
        "write_cbs_tables(municipalities=int(sys.argv[1]))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(municipalities)], cwd=REPO, env=env, check=True)


def run_cli_refresh(warehouse: Path) -> Measure:
    """`octracker refresh` over the bundled documents, offline as `make run` is: the feeds load their bundled
    snapshots instead of waiting on the network."""
    return run_cli(REPO, warehouse, "refresh")


def run_cli(project: Path, warehouse: Path, *args: str, printing: str | None = None) -> Measure:
    """The real console entry point in its own process; the time is the whole process's (its modules' byte code
    written beforehand, as an installed package has it).

    Quiet, or with `printing` what it prints for a person to a file (not a terminal: no progress bar), which must
    include `printing`: the summary is part of what the process costs (`octracker refresh` counts the run's changes).
    """
    compile_sources()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OCTRACKER_OFFLINE": "1"}
    load_before = os.getloadavg()[0]
    command = [sys.executable, "-m", "octracker", "--project", str(project), "--warehouse", str(warehouse)]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        start = time.perf_counter()
        child = subprocess.Popen(
            [*command, *(() if printing else ("--quiet",)), *args], cwd=REPO, env=env, stdout=out if printing else None
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        printed = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"octracker {' '.join(args)} failed (exit {status})")
    if printing and printing not in printed:
        raise SystemExit(f"octracker {' '.join(args)} printed no {printing!r} line:\n{printed}")
    return Measure(
        step=f"octracker {args[0]}",
        seconds=elapsed,
        process_seconds=elapsed,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mib=usage.ru_maxrss / 1024,
        load_before=load_before,
        detail={"printed": printed} if printing else {},
    )


@dataclass(frozen=True)
class Target:
    """One of the targets: a measured ratio, time or peak memory and the bound it must keep (None: information)."""

    check: str
    numerator: str
    denominator: str | None
    bound: float | None
    unit: str = "x"
    #: A ratio of peak memory, not of time.
    of_memory: bool = False

    @property
    def reads_memory(self) -> bool:
        return self.unit == "MiB"


def targets(big: str, small: str) -> list[Target]:
    return [
        Target(f"1. first ingest {big} / bare load", f"ingest_{big}", f"bare_ctas_{big}", 2.0),
        Target(f"2. table with 10% revised {big} / bare load", f"revised_full_table_{big}", f"bare_ctas_{big}", 1.0),
        Target(f"2. small change: {SMALL_CHANGE_ROWS} revised rows into {big}", f"small_change_{big}", None, 0.3, "s"),
        Target(f"2. (small change into {big} / into {small})", f"small_change_{big}", f"small_change_{small}", None),
        Target(
            f"2. (small change into {big}, in a scheduler's process after the day before's refresh)",
            f"small_change_{big}_scheduled",
            None,
            None,
            "s",
        ),
        Target(f"2. (delta of the revised 10% {big} / bare load)", f"revised_delta_{big}", f"bare_ctas_{big}", None),
        Target(f"2. (re-ingest same file {big} / first ingest)", f"reingest_same_file_{big}", f"ingest_{big}", None),
        Target(
            f"2. (re-ingest same rows, re-encoded file {big} / first ingest)",
            f"reingest_reencoded_{big}",
            f"ingest_{big}",
            None,
        ),
        Target(f"3. peak memory, first ingest {big}", f"ingest_{big}", None, 1536, "MiB"),
        Target(
            f"3. peak memory, first ingest {LARGEST.name} / {big}",
            f"ingest_{LARGEST.name}",
            f"ingest_{big}",
            1.3,
            of_memory=True,
        ),
        Target(f"4. octracker first ingest {small} / dlt merge {small}", f"ingest_{small}", f"dlt_merge_{small}", 0.5),
        Target(
            f"4. octracker re-ingest {small} / dlt re-merge {small}",
            f"reingest_same_file_{small}",
            f"dlt_remerge_same_{small}",
            0.5,
        ),
        Target(
            f"4. (octracker re-ingest re-encoded {small} / dlt re-merge {small})",
            f"reingest_reencoded_{small}",
            f"dlt_remerge_same_{small}",
            None,
        ),
        *(
            Target(f"4. 1M-row {fmt} through `octracker ingest` / dlt merge", f"publisher_{fmt}", f"dlt_{fmt}", 0.5)
            for fmt in ("sdmx_csv", "jsonstat")
        ),
        *(
            Target(f"5. {name} through `octracker ingest` (whole process{into})", f"real_{name}{step}", None, 1.0, "s")
            for name in REAL_FILES
            for step, into in (
                ("", ", new warehouse"),
                ("_again", ", warehouse holding it"),
                ("_edition", ", new edition into the warehouse holding the last"),
            )
        ),
        Target(
            f"5. CBS-like table, daily edition with {CBS_REVISED_SHARE:.0%} revised / its first ingest",
            "refresh_revised_cbs",
            "ingest_cbs",
            0.3,
        ),
        Target("5. (CBS-like table, first ingest / bare load)", "ingest_cbs", "bare_ctas_cbs", None),
        *(t for label in dict.fromkeys((big, INGEST_AGAINST_SPEC[big].name)) for t in through_ingest_targets(label)),
        Target(
            f"(views and alerts refreshed {big} + annual / bare load)", f"views_alerts_{big}", f"bare_ctas_{big}", None
        ),
        Target(f"(one indicator through yoy_changes {big})", f"query_yoy_changes_{big}", None, None, "s"),
        Target(f"(one indicator through series {big})", f"query_series_{big}", None, None, "s"),
    ]


def through_ingest_targets(label: str) -> list[Target]:
    """Target 6 for one table: the same edition costs the same through `octracker ingest` as through a spec."""
    return [
        Target(
            f"6. 10% revised {label} through `octracker ingest` / through a spec",
            f"ingest_command_revised_{label}",
            f"revised_full_table_{label}",
            1.1,
        ),
        Target(
            f"6. (first ingest {label} through `octracker ingest` / through a spec)",
            f"ingest_command_{label}",
            f"ingest_{label}",
            None,
        ),
        Target(
            f"6. 10% revised {label} through `octracker ingest`, under another file name / through a spec",
            f"ingest_command_renamed_{label}",
            f"revised_full_table_{label}",
            1.1,
        ),
        Target(
            f"6. (10% revised {label} through `octracker ingest` / bare load)",
            f"ingest_command_revised_{label}",
            f"bare_ctas_{label}",
            None,
        ),
    ]


def evaluate(results: dict[str, Result], big: str, small: str) -> list[dict[str, Any]]:
    rows = []
    for t in targets(big, small):
        if t.numerator not in results or (t.denominator and t.denominator not in results):
            continue
        num = results[t.numerator]
        if t.reads_memory:
            value, cpu = num.peak_mib, None
        elif t.of_memory and t.denominator:
            value, cpu = num.peak_mib / results[t.denominator].peak_mib, None
        else:
            value = num.seconds / results[t.denominator].seconds if t.denominator else num.seconds
            cpu = num.cpu_seconds / results[t.denominator].cpu_seconds if t.denominator else None
        rows.append(
            {
                "check": t.check,
                "value": value,
                "cpu_ratio": cpu,
                "bound": t.bound,
                "unit": t.unit,
                "met": None if t.bound is None else value <= t.bound,
            }
        )
    for name in (f"reingest_same_file_{big}", f"reingest_reencoded_{big}", f"reingest_same_file_{small}"):
        if name in results and f"ingest_{name.rsplit('_', 1)[1]}" in results:
            first = results[f"ingest_{name.rsplit('_', 1)[1]}"].detail
            again = results[name].detail
            added = again["versions"] - first["versions"]
            rows.append(
                {
                    "check": f"2. new versions written by {name}",
                    "value": added,
                    "cpu_ratio": None,
                    "bound": 0,
                    "unit": "versions",
                    "met": added == 0 and again["new"] == again["revised"] == 0,
                }
            )
    return rows


def machine() -> dict[str, Any]:
    import duckdb
    import pandera
    import polars

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            int(line.split()[1]) / 1024**2
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        None,
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "pandera": pandera.__version__,
        "dlt": _version("dlt"),
        "platform": platform.platform(),
    }


def _version(package: str) -> str | None:
    """The installed version of a package; None without it (a partial run such as `--only cbs` needs no dlt)."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def print_report(results: dict[str, Result], checks: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    steps = Table(title="Steps (medians)", header_style="bold")
    for column in ("step", "runs", "median s", "median cpu s", "peak MiB", "detail"):
        steps.add_column(column, justify="left" if column in ("step", "detail") else "right")
    for name, r in results.items():
        d = r.detail
        detail = ", ".join(
            f"{k} {d[k]}"
            for k in ("rows", "new", "revised", "unchanged", "retracted", "versions", "alerts_opened")
            if k in d
        )
        steps.add_row(
            name, str(len(r.measures)), f"{r.seconds:.3f}", f"{r.cpu_seconds:.2f}", f"{r.peak_mib:.0f}", detail
        )
    console.print(steps)
    goals = Table(title="Targets", header_style="bold")
    for column in ("check", "measured", "cpu ratio", "target", "met"):
        goals.add_column(column, justify="left" if column == "check" else "right")
    for c in checks:
        value = f"{c['value']:.3f}" if isinstance(c["value"], float) else str(c["value"])
        cpu = f"{c['cpu_ratio']:.2f}" if c["cpu_ratio"] is not None else ""
        if c["bound"] is None:
            goals.add_row(c["check"], f"{value} {c['unit']}", cpu, "", "(information)")
            continue
        goals.add_row(
            c["check"],
            f"{value} {c['unit']}",
            cpu,
            f"<= {c['bound']} {c['unit']}",
            "[green]yes[/]" if c["met"] else "[red]no[/]",
        )
    console.print(goals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1M + 100k rows, one repeat (a smoke run)")
    parser.add_argument("--repeats", type=int, help="runs per step (default 3, 1 with --quick)")
    parser.add_argument(
        "--e2e-runs", type=int, default=5, help="runs of `octracker refresh` over the bundled documents"
    )
    parser.add_argument(
        "--only",
        choices=("big", "small", "e2e", "real", "change", "first", "cbs", "dlt", "ingest"),
        action="append",
        help="run only these parts (repeatable); `change` is the big table's first ingest (once) and the small change "
        "into it, which `big` also runs; `first` the first ingest and bare load of the big table and of a 30M-row one; "
        "`cbs` the CBS-like table of 10M rows, its first ingest and its daily edition with 1 %% revised; "
        "`dlt` the small table's first ingest and the publishers' 1M-row files against dlt's merge, alternating; "
        "`ingest` a 2M-row table and its revised edition through a spec and through `octracker ingest`",
    )
    parser.add_argument(
        "--cbs-municipalities",
        type=int,
        default=CBS_MUNICIPALITIES,
        help="municipalities of the CBS-like table (`--only cbs`), 100,000 rows each: 100 (default) is 10M rows",
    )
    parser.add_argument("--work", type=Path, default=DATA_DIR / "work", help="scratch folder for warehouses")
    parser.add_argument("--keep", action="store_true", help="keep the warehouses in the scratch folder afterwards")
    args = parser.parse_args(argv)
    big, small = (SIZES["1m"], SIZES["100k"]) if args.quick else (SIZES["10m"], SIZES["1m"])
    repeats = args.repeats or (1 if args.quick else 3)
    parts = set(args.only or ("big", "small", "e2e", "real"))
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.work, repeats, keep=args.keep)
    started = dt.datetime.now(dt.UTC)
    print(
        f"generating tables ({big.rows:,} and {small.rows:,} rows) under {DATA_DIR / 'tables'} if missing", flush=True
    )
    generate_tables(
        *((big, SIZES[ANNUAL[big.name]]) if parts & {"big", "change", "first"} else ()),
        *((small,) if parts & {"small", "dlt"} else ()),
    )
    # Generated by the child above: this process only names them, so it never holds a table's frame.
    big_files, small_files = table_files(big), table_files(small)
    if "big" in parts:
        bench.bare(big.name, big_files)
        bench.octracker(big.name, big_files, annual=SIZES[ANNUAL[big.name]])
    elif "change" in parts:
        bench.change_only(big.name, big_files)
    if "first" in parts and "big" not in parts:
        largest = () if args.quick else (LARGEST,)
        generate_tables(*largest)
        bench.first_loads(big, *largest)
    if "ingest" in parts:
        generate_tables(INGEST_AGAINST_SPEC[big.name])
        bench.ingest_against_spec(INGEST_AGAINST_SPEC[big.name])
    if "small" in parts:
        bench.bare(small.name, small_files)
        bench.octracker(small.name, small_files)
        bench.dlt(small.name, small_files)
        bench.publisher_formats()
    elif "dlt" in parts:
        bench.against_dlt(small.name, small_files)
    if "e2e" in parts:
        bench.end_to_end(args.e2e_runs if not args.quick else 2)
    if "real" in parts:
        bench.real_sources()
    if "cbs" in parts:
        generate_cbs_tables(args.cbs_municipalities)
        bench.cbs(args.cbs_municipalities)
    checks = evaluate(bench.results, big.name, small.name)
    print_report(bench.results, checks)
    record = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": {"big": asdict(big), "small": asdict(small)},
        "repeats": repeats,
        "results": {name: r.record() for name, r in bench.results.items()},
        "targets": checks,
        # The e2e processes' peaks are their ru_maxrss, which on Linux is at least this runner's peak.
        "runner_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    RESULTS_FILE.write_text(json.dumps(record, indent=2), encoding="utf-8")
    if not args.quick and parts == {"big", "small", "e2e", "real"}:
        LATEST_FILE.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"results written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
