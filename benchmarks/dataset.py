"""Synthetic long tables and the throw-away project folder the benchmarks ingest them through.

A size is (indicators x geographies x periods). Each series is one (indicator, geo). The main tables are
monthly: consecutive calendar months written `YYYY-MM-DD/YYYY-MM-DD`, as a monthly statistics table is
(500 periods of years would not fit the contract's year range of 1900-2100). A companion annual table
(periods `YYYY`) feeds the year-over-year view and its alerts, which only read annual indicators.
Every file is deterministic for a given polars version: the same size gives the same Parquet.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pycountry

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / "data"
#: Share of rows whose value changes in the revised edition of a table.
REVISED_SHARE = 0.10
#: Rows of the small change: revised values spread over the whole table, as a feed of a few corrections.
SMALL_CHANGE_ROWS = 100
FIRST_MONTH = dt.date(1985, 1, 1)
LAST_YEAR = 2025
#: Share of annual series whose latest year jumps by JUMP (so year-over-year alerts have something to find).
JUMP_SHARE, JUMP = 0.01, 1.35
#: Indicators in the benchmark catalog, per frequency (every size uses the first n of them).
CATALOG_INDICATORS = 300


@dataclass(frozen=True)
class Size:
    """How big a synthetic table is; rows = indicators * geos * periods."""

    name: str
    indicators: int
    geos: int
    periods: int
    frequency: str = "monthly"

    @property
    def series(self) -> int:
        return self.indicators * self.geos

    @property
    def rows(self) -> int:
        return self.series * self.periods


SIZES = {
    "10m": Size("10m", indicators=100, geos=200, periods=500),  # 20,000 series x 500 months
    "30m": Size("30m", indicators=300, geos=200, periods=500),  # 60,000 series x 500 months: memory against 10m
    "1m": Size("1m", indicators=10, geos=200, periods=500),  # 2,000 series x 500 months
    "2m": Size("2m", indicators=20, geos=200, periods=500),  # 4,000 series x 500 months: ingest against a spec
    "100k": Size("100k", indicators=10, geos=20, periods=500),  # 200 series, for --quick smoke runs
    "annual_2m": Size("annual_2m", indicators=100, geos=200, periods=100, frequency="annual"),
    "annual_20k": Size("annual_20k", indicators=10, geos=20, periods=100, frequency="annual"),
}
#: The annual companion of each main size.
ANNUAL = {"10m": "annual_2m", "1m": "annual_20k", "100k": "annual_20k"}


def indicator_ids(count: int, frequency: str = "monthly") -> list[str]:
    prefix = "bench_ind" if frequency == "monthly" else "bench_ann"
    return [f"{prefix}_{n:03d}" for n in range(count)]


def geo_codes(count: int) -> list[str]:
    """ISO 3166-1 alpha-2 codes in a fixed order, as the contract's geo pattern requires."""
    codes = sorted(c.alpha_2 for c in pycountry.countries)
    if count > len(codes):
        raise ValueError(f"only {len(codes)} country codes exist; asked for {count}")
    return codes[:count]


def month_periods(months: int) -> list[str]:
    """`YYYY-MM-01/YYYY-MM-<last day>` for consecutive months from FIRST_MONTH."""
    periods = []
    for n in range(months):
        year, month = FIRST_MONTH.year + (FIRST_MONTH.month - 1 + n) // 12, (FIRST_MONTH.month - 1 + n) % 12 + 1
        start = dt.date(year, month, 1)
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        periods.append(f"{start.isoformat()}/{end.isoformat()}")
    return periods


def uniform(expr: pl.Expr, seed: int) -> pl.Expr:
    """A deterministic pseudo-random number in [0, 1) per value of `expr` (polars' seeded hash)."""
    return (expr.hash(seed) % 1_000_003).cast(pl.Float64) / 1_000_003


def year_periods(years: int) -> list[str]:
    return [str(y) for y in range(LAST_YEAR - years + 1, LAST_YEAR + 1)]


def long_table(size: Size, *, seed: int = 8) -> pl.DataFrame:
    """indicator, geo, period, value, unit: sorted by series then period, like an office's export."""
    series = pl.DataFrame({"indicator": indicator_ids(size.indicators, size.frequency)}).join(
        pl.DataFrame({"geo": geo_codes(size.geos)}), how="cross"
    )
    labels = month_periods(size.periods) if size.frequency == "monthly" else year_periods(size.periods)
    periods = pl.DataFrame({"period": labels}).with_row_index("_period")
    frame = series.join(periods, how="cross").sort("indicator", "geo", "_period")
    # A level per series and +-5 % noise per period: whole counts in a plausible range (a count counts whole things).
    row = pl.int_range(pl.len(), dtype=pl.UInt64)
    series_no = row // size.periods
    level = 100 + uniform(series_no, seed) * 99_900
    noise = 0.95 + uniform(row, seed + 1) * 0.10
    last = pl.col("_period") == size.periods - 1
    jump = pl.when(last & (uniform(series_no, seed + 2) < JUMP_SHARE)).then(JUMP).otherwise(1.0)
    value = level * noise * (jump if size.frequency == "annual" else 1.0)
    return frame.with_columns(value.round(0).alias("value"), pl.lit("count").alias("unit")).drop("_period")


def revise(frame: pl.DataFrame, *, share: float = REVISED_SHARE, seed: int = 9) -> pl.DataFrame:
    """The same table with `share` of the values changed (+1 %, rounded: every count is at least 95, so it moves by
    at least one), spread over all series."""
    changed = uniform(pl.int_range(pl.len(), dtype=pl.UInt64), seed) < share
    return frame.with_columns(
        pl.when(changed).then((pl.col("value") * 1.01).round(0)).otherwise(pl.col("value")).alias("value")
    )


@dataclass(frozen=True)
class TableFiles:
    """The Parquet files of one size: the table, its revised edition, the same rows re-encoded, the delta,
    a small change (SMALL_CHANGE_ROWS rows of the delta) and the small change of the day before (as many other rows
    of the delta, chosen the same way)."""

    base: Path
    revised: Path
    reencoded: Path
    delta: Path
    small_change: Path
    small_change_earlier: Path


def table_files(size: Size, data_dir: Path = DATA_DIR) -> TableFiles:
    folder = data_dir / "tables"
    return TableFiles(
        base=folder / f"long_{size.name}.parquet",
        revised=folder / f"long_{size.name}_revised.parquet",
        reencoded=folder / f"long_{size.name}_reencoded.parquet",
        delta=folder / f"long_{size.name}_delta.parquet",
        small_change=folder / f"long_{size.name}_small_change.parquet",
        small_change_earlier=folder / f"long_{size.name}_small_change_earlier.parquet",
    )


def write_tables(size: Size, data_dir: Path = DATA_DIR) -> TableFiles:
    """Write the size's files unless they exist (generation is deterministic, so existing ones are right)."""
    files = table_files(size, data_dir)
    if not all(p.exists() for p in (files.base, files.revised, files.reencoded, files.delta)):
        files.base.parent.mkdir(parents=True, exist_ok=True)
        base = long_table(size)
        base.write_parquet(files.base, compression="zstd", row_group_size=1_000_000)
        # Same rows, other bytes: a re-export the content hash cannot recognise as the same file.
        base.write_parquet(files.reencoded, compression="snappy", row_group_size=500_000)
        revised = revise(base)
        revised.write_parquet(files.revised, compression="zstd", row_group_size=1_000_000)
        # Only the revised rows: what a feed of corrections would send.
        revised.filter(revised["value"] != base["value"]).write_parquet(files.delta, compression="zstd")
    if not (files.small_change.exists() and files.small_change_earlier.exists()):
        # Every n-th revised row, so the few rows fall in row groups all over the warehouse; the day before's
        # corrections are the rows halfway between them.
        delta = pl.read_parquet(files.delta)
        step = max(delta.height // SMALL_CHANGE_ROWS, 1)
        small = delta.gather_every(step).head(SMALL_CHANGE_ROWS)
        earlier = delta.gather_every(step, offset=step // 2).head(SMALL_CHANGE_ROWS)
        key = ["indicator", "geo", "period"]
        if earlier.height != SMALL_CHANGE_ROWS or not earlier.join(small, on=key, how="semi").is_empty():
            raise ValueError(f"{files.delta} is too small for two small changes of {SMALL_CHANGE_ROWS} other rows")
        for frame, path in ((small, files.small_change), (earlier, files.small_change_earlier)):
            if not path.exists():
                frame.write_parquet(path, compression="zstd")
    return files


#: A CBS-like table (`--only cbs`): registered crimes per neighbourhood, crime type and year, as Statistics Netherlands
#: publishes them (StatLine's "wijk en buurt" tables). Regions are named as a CBS load names them (`NL-` and CBS's
#: code): 100 municipalities (`GM`), each with 10 districts (`WK` + the municipality's digits + 2) and 90
#: neighbourhoods (`BU` + the district's digits + 2) = 10,000 regions x 50 crime types x 20 years = 10M rows.
CBS_MUNICIPALITIES, CBS_DISTRICTS, CBS_NEIGHBOURHOODS = 100, 10, 9
CBS_CRIME_TYPES = 50
CBS_YEARS = tuple(str(y) for y in range(2005, 2025))
#: Share of the CBS-like table's values revised in each daily edition (a count moved by one).
CBS_REVISED_SHARE = 0.01


def cbs_regions(municipalities: int = CBS_MUNICIPALITIES) -> list[str]:
    """District and neighbourhood codes as a CBS load writes them: `NL-WK036301`, `NL-BU03630100`."""
    regions = []
    for m in range(municipalities):
        municipality = f"{3 + 7 * m:04d}"  # spread over CBS's range like real municipality numbers
        for d in range(CBS_DISTRICTS):
            district = f"{municipality}{d:02d}"
            regions.append(f"NL-WK{district}")
            regions.extend(f"NL-BU{district}{b:02d}" for b in range(CBS_NEIGHBOURHOODS))
    return regions


def cbs_crime_types() -> list[str]:
    """Crime types coded as CBS codes them (`1.1.1` burglary of a home ...), as catalog ids."""
    codes = [f"{1 + n // 10}_{1 + (n // 5) % 2}_{1 + n % 5}" for n in range(CBS_CRIME_TYPES)]
    return [f"bench_cbs_misdrijf_{code}" for code in codes]


@dataclass(frozen=True)
class CbsFiles:
    """The CBS-like table and its next daily edition, with CBS_REVISED_SHARE of its counts revised."""

    base: Path
    revised: Path


def cbs_files(data_dir: Path = DATA_DIR, municipalities: int = CBS_MUNICIPALITIES) -> CbsFiles:
    folder = data_dir / "tables"
    name = f"cbs_{municipalities * (CBS_DISTRICTS * (1 + CBS_NEIGHBOURHOODS)) * CBS_CRIME_TYPES * len(CBS_YEARS):_}"
    return CbsFiles(base=folder / f"{name}.parquet", revised=folder / f"{name}_revised.parquet")


def cbs_table(*, municipalities: int = CBS_MUNICIPALITIES, seed: int = 11) -> pl.DataFrame:
    """indicator, geo, period, value, unit in CBS's order (crime type, region, year): whole counts, small in a
    neighbourhood (0-200), with a level per series and noise per year."""
    frame = (
        pl.DataFrame({"indicator": cbs_crime_types()})
        .join(pl.DataFrame({"geo": cbs_regions(municipalities)}), how="cross")
        .join(pl.DataFrame({"period": list(CBS_YEARS)}), how="cross")
    )
    row = pl.int_range(pl.len(), dtype=pl.UInt64)
    level = uniform(row // len(CBS_YEARS), seed) * 200
    noise = 0.8 + uniform(row, seed + 1) * 0.4
    return frame.with_columns((level * noise).round(0).alias("value"), pl.lit("count").alias("unit"))


def write_cbs_tables(data_dir: Path = DATA_DIR, municipalities: int = CBS_MUNICIPALITIES) -> CbsFiles:
    """Write the CBS-like table and its revised edition unless they exist (deterministic)."""
    files = cbs_files(data_dir, municipalities)
    if files.base.exists() and files.revised.exists():
        return files
    files.base.parent.mkdir(parents=True, exist_ok=True)
    base = cbs_table(municipalities=municipalities)
    # Row groups as DuckDB writes them, a Parquet export's usual size.
    base.write_parquet(files.base, compression="zstd", row_group_size=122_880)
    changed = uniform(pl.int_range(pl.len(), dtype=pl.UInt64), 12) < CBS_REVISED_SHARE
    base.with_columns(value=pl.when(changed).then(pl.col("value") + 1).otherwise(pl.col("value"))).write_parquet(
        files.revised, compression="zstd", row_group_size=122_880
    )
    return files


#: A publisher's dataset of 1M observations (50 offence codes x 200 countries x 100 years), as Eurostat writes it.
PUBLISHER_SHAPE = {"indic": [f"ICCS{n:04d}" for n in range(50)], "years": [str(y) for y in range(1926, 2026)]}


def publisher_files(data_dir: Path = DATA_DIR) -> dict[str, Path]:
    """The same 1M observations as SDMX-CSV and as JSON-stat 2.0 (written once; deterministic)."""
    folder = data_dir / "tables"
    files = {"sdmx_csv": folder / "estat_bench_crim.csv", "jsonstat": folder / "estat_bench_crim.json"}
    if all(p.exists() for p in files.values()):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    geos = geo_codes(200)
    cube = (
        pl.DataFrame({"indic": PUBLISHER_SHAPE["indic"]})
        .join(pl.DataFrame({"geo": geos}), how="cross")
        .join(pl.DataFrame({"TIME_PERIOD": PUBLISHER_SHAPE["years"]}), how="cross")
    )
    values = (uniform(pl.int_range(pl.len(), dtype=pl.UInt64), 3) * 10_000).round(0)
    cube = cube.with_columns(OBS_VALUE=values)
    cube.select(
        DATAFLOW=pl.lit("ESTAT:BENCH_CRIM(1.0)"),
        **{"LAST UPDATE": pl.lit("12/06/25 23:00:00")},
        freq=pl.lit("A"),
        indic=pl.col("indic"),
        unit=pl.lit("NR"),
        geo=pl.col("geo"),
        TIME_PERIOD=pl.col("TIME_PERIOD"),
        OBS_VALUE=pl.col("OBS_VALUE"),
        OBS_FLAG=pl.lit(None, pl.String),
    ).write_csv(files["sdmx_csv"])
    # JSON-stat: the cube's values in row-major order of its dimensions (freq, indic, unit, geo, time).
    ids = ["freq", "indic", "unit", "geo", "time"]
    codes = {
        "freq": ["A"],
        "indic": PUBLISHER_SHAPE["indic"],
        "unit": ["NR"],
        "geo": geos,
        "time": PUBLISHER_SHAPE["years"],
    }
    body = {
        "version": "2.0",
        "class": "dataset",
        "label": "Benchmark offences (synthetic)",
        "source": "ESTAT",
        "updated": "2025-06-12T23:00:00+0200",
        "id": ids,
        "size": [len(codes[i]) for i in ids],
        "dimension": {
            i: {
                "label": i,
                "category": {"index": {c: n for n, c in enumerate(codes[i])}, "label": {c: c for c in codes[i]}},
            }
            for i in ids
        },
        "value": {str(n): v for n, v in enumerate(cube.get_column("OBS_VALUE").to_list())},
        "extension": {"id": "BENCH_CRIM", "agencyId": "ESTAT"},
    }
    files["jsonstat"].write_text(json.dumps(body), encoding="utf-8")
    return files


#: A new edition of each publisher's recorded file: which cells change (a sheet and column of a workbook, the values of
#: a CSV), every `EDITION_STEP`-th of them.
EDITION_CELLS = {
    "global_oc_index.xlsx": ("xl/worksheets/sheet2.xml", "D"),  # 2023_dataset, criminality
    "data_cts_violent_and_sexual_crime.xlsx": ("xl/worksheets/sheet1.xml", "L"),  # VALUE
}
EDITION_STEP = 20


def real_edition(recorded: Path, data_dir: Path = DATA_DIR) -> Path:
    """A later edition of a publisher's recorded file, under the same name (the name a UNODC export's dataset is
    read from): one in `EDITION_STEP` of its values revised, everything else byte for byte as recorded. In a
    workbook the numbers of one column are edited in the sheet's XML (a score moved by 0.01 within 1-10, a count
    by 1); in an SDMX-CSV file the OBS_VALUE cells (by 0.1, written with one decimal as Eurostat writes them)."""
    edition = data_dir / "tables" / "real_editions" / recorded.name
    if edition.exists():
        return edition
    edition.parent.mkdir(parents=True, exist_ok=True)
    if recorded.suffix == ".csv":
        lines = recorded.read_bytes().decode("utf-8").split("\r\n")
        value_at = lines[0].split(",").index("OBS_VALUE")
        for n in range(1, len(lines), EDITION_STEP):
            cells = lines[n].split(",")
            if len(cells) > value_at and cells[value_at]:
                cells[value_at] = f"{float(cells[value_at]) + 0.1:.1f}"
                lines[n] = ",".join(cells)
        edition.write_bytes("\r\n".join(lines).encode("utf-8"))
        return edition
    sheet, column = EDITION_CELLS[recorded.name]
    counter = iter(range(10**9))

    def revised(found: re.Match[str]) -> str:
        if next(counter) % EDITION_STEP:
            return found[0]
        number = float(found[2])
        moved = (
            number + 1 if number.is_integer() and number > 10 else round(number + (0.01 if number < 9.5 else -0.01), 2)
        )
        return f"{found[1]}{moved:g}</v></c>"

    with zipfile.ZipFile(recorded) as source, zipfile.ZipFile(edition, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == sheet:
                cells = re.compile(rf'(<c r="{column}(?:[5-9]|\d{{2,}})"(?: s="\d+")?><v>)([0-9.]+)</v></c>')
                data = cells.sub(revised, data.decode("utf-8")).encode("utf-8")
            target.writestr(item, data)
    return edition


def catalog_toml(count: int = CATALOG_INDICATORS) -> str:
    """Synthetic monthly and annual count indicators and the CBS-like crime types, in the project's catalog format."""
    blocks = [
        f'[[indicator]]\nid = "{ind}"\nname = "Benchmark {frequency} indicator {n}"\nunit = "count"\n'
        f'direction = "up_is_bad"\nfrequency = "{frequency}"\nmin = 0\nmax = 1000000000\n'
        f'description = "Synthetic {frequency} count for benchmarks."\n'
        for frequency in ("monthly", "annual")
        for n, ind in enumerate(indicator_ids(count, frequency))
    ]
    for ind in cbs_crime_types():
        code = ind.removeprefix("bench_cbs_misdrijf_").replace("_", ".")
        blocks.append(
            f'[[indicator]]\nid = "{ind}"\nname = "Registered crimes, type {code}"\nunit = "count"\n'
            f'direction = "up_is_bad"\nfrequency = "annual"\nmin = 0\nmax = 1000000\n'
            f'description = "Synthetic CBS-like count of registered crimes per neighbourhood, for benchmarks."\n'
        )
    return "# Benchmark-only catalog: synthetic indicators, never part of the real project.\n\n" + "\n".join(blocks)


def write_project(root: Path, *, synthetic_catalog: bool = True) -> Path:
    """A project folder with the real contract, alert rules, migrations and views, and a synthetic catalog
    (or the real one), without pipelines.

    Everything but the synthetic catalog is copied fresh each time, so the benchmark always measures the
    engine's current SQL and rules.
    """
    if root.exists():
        shutil.rmtree(root)
    (root / "pipelines").mkdir(parents=True)
    for folder in ("schemas", "warehouse/migrations", "warehouse/views"):
        shutil.copytree(REPO / folder, root / folder)
    if synthetic_catalog:
        (root / "schemas" / "indicators.toml").write_text(catalog_toml(), encoding="utf-8")
    return root


@dataclass(frozen=True)
class Feed:
    """One benchmark pipeline: its name, the source it loads and the file name its table arrives under."""

    pipeline: str
    source_id: str
    document: str


MONTHLY = Feed("bench_monthly", "bench-statistics-office-monthly", "monthly_statistics.parquet")
YEARLY = Feed("bench_annual", "bench-statistics-office-annual", "annual_statistics.parquet")
#: The CBS-like table, refreshed daily as a whole (`--only cbs`).
CBS = Feed("bench_cbs", "bench-cbs-crimes-neighbourhoods", "registered_crimes_neighbourhoods.parquet")
#: The monthly table given to `octracker ingest` (a source of its own: a spec pipeline's source is not the inbox's).
INBOX = Feed("inbox", "bench-statistics-office-inbox", "monthly_statistics.parquet")


def stage_table(folder: Path, table: Path, feed: Feed = INBOX) -> Path:
    """Put `table` in `folder` under the feed's file name, with its sidecar, for `octracker ingest`."""
    folder.mkdir(parents=True, exist_ok=True)
    document = folder / feed.document
    shutil.copyfile(table, document)
    document.with_name(feed.document + ".meta.toml").write_text(sidecar_toml(feed), encoding="utf-8")
    return document


def sidecar_toml(feed: Feed) -> str:
    return (
        f'source_id = "{feed.source_id}"\nkind = "observations_long"\ntitle = "Synthetic statistics"\n'
        f'publisher = "Benchmark statistics office"\npublished = "2026-01-15"\n'
    )


def write_spec(project: Path, table: Path, feed: Feed = MONTHLY, *, full_snapshot: bool = True) -> Path:
    """Put `table` in place as the pipeline's document, with the sidecar naming its source, and the spec.

    Every edition of the table goes to the same file name, as an office re-publishing its export would:
    the evidence of a row names the file and row, so a new name would make every row a revision.
    """
    documents = project / "pipelines" / "documents"
    stage_table(documents, table, feed)
    spec = project / "pipelines" / f"{feed.pipeline}.toml"
    spec.write_text(
        f'description = "Synthetic long table for benchmarks"\nextractor = "observations_long"\n'
        f'document = "documents/{feed.document}"\nprecedence = 80\nfull_snapshot = {str(full_snapshot).lower()}\n',
        encoding="utf-8",
    )
    return spec
