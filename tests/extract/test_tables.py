"""Table readers: long observation tables (CSV, Parquet), wide index tables (CSV, XLSX), and format detection."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from octracker.content.catalog import load_catalog
from octracker.countries import country_code
from octracker.errors import InputRefused
from octracker.extract.tables import detect_table_kind, extract_long_table, extract_wide_index

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "tables"
CANONICAL = [
    "indicator_id",
    "geo",
    "period_start",
    "period_end",
    "year",
    "value",
    "unit",
    "qualifier",
    "is_partial",
    "as_of",
    "source_id",
    "method",
    "note",
]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "schemas" / "indicators.toml")


@pytest.fixture(scope="module")
def observation_model():
    spec = importlib.util.spec_from_file_location("schemas_observation", ROOT / "schemas" / "observation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pandera resolves the model's annotations through sys.modules
    spec.loader.exec_module(module)
    return module.Observation


def long(name_or_path, catalog, **kwargs):
    path = name_or_path if isinstance(name_or_path, Path) else CASES / name_or_path
    return extract_long_table(path, source_id="test-source", catalog=catalog, **kwargs)


def wide(name_or_path, catalog, edition=2023):
    path = name_or_path if isinstance(name_or_path, Path) else CASES / name_or_path
    return extract_wide_index(path, source_id="test-index", edition=edition, catalog=catalog)


def checks(extract):
    return [(p.check, p.line_no) for p in extract.problems]


def row(frame, **match):
    rows = frame.filter(**match)
    assert rows.height == 1, f"expected one row for {match}, found {rows.height}"
    return rows.row(0, named=True)


# --- long table: good input ------------------------------------------------------------------------------


def test_long_csv_reads_values_units_and_qualifiers(catalog):
    extract = long("long_good.csv", catalog)
    assert extract.ok, extract.problems
    frame = extract.frame
    assert frame.height == 9
    shootings = row(frame, indicator_id="shootings", year=2024)
    assert shootings["geo"] == "BE-BRU"
    assert shootings["value"] == 92.0
    assert shootings["unit"] == "count"
    assert shootings["qualifier"] == "exact"
    assert shootings["method"] == "parsed"
    assert shootings["source_id"] == "test-source"
    assert shootings["_source_url"] == "https://example.org/brussels-2024"
    assert shootings["evidence"] == (
        "long_good.csv line 2: shootings,BE-BRU,2024,92,count,,,https://example.org/brussels-2024,"
    )
    rate = row(frame, indicator_id="homicide_rate_per_100k")
    assert (rate["value"], rate["unit"]) == (1.38, "per 100,000 people")
    seized = row(frame, indicator_id="cocaine_seized_tonnes", year=2021)
    assert seized["qualifier"] == "approx"
    assert seized["note"] == "nearly 90, from\na two-line note"
    # A quoted field spanning two lines is one record: the next record keeps its own line number.
    assert row(frame, indicator_id="cocaine_seized_tonnes", year=2023)["_line_no"] == 8


def test_long_full_year_is_not_partial(catalog):
    frame = long("long_good.csv", catalog).frame
    full = row(frame, indicator_id="shooting_deaths", year=2024)
    assert (full["period_start"], full["period_end"]) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert full["is_partial"] is False and full["as_of"] is None
    # A range spelled out but covering the whole year is a full year; an as_of after it is kept as given.
    spelled = row(frame, indicator_id="oci.cocaine_trade")
    assert spelled["is_partial"] is False and spelled["as_of"] == dt.date(2026, 1, 15)


def test_long_range_short_of_the_year_is_partial(catalog):
    frame = long("long_good.csv", catalog).frame
    with_as_of = row(frame, indicator_id="shootings", period_end=dt.date(2025, 9, 10))
    assert with_as_of["is_partial"] is True
    assert with_as_of["as_of"] == dt.date(2025, 9, 10)
    assert with_as_of["qualifier"] == "approx"
    assert with_as_of["year"] == 2025
    assert with_as_of["note"] == 'approximately 60 "so far this year"'
    # No as_of given: the range end is when the figure stood.
    without = row(frame, indicator_id="shootings", period_end=dt.date(2025, 6, 30))
    assert without["is_partial"] is True
    assert without["as_of"] == dt.date(2025, 6, 30)
    assert without["qualifier"] == "lower_bound"
    # A year known only as of a date before its end is the year so far.
    so_far = row(frame, indicator_id="shooting_deaths", year=2025)
    assert (so_far["period_start"], so_far["period_end"]) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert so_far["is_partial"] is True and so_far["as_of"] == dt.date(2025, 9, 10)


def test_long_output_passes_the_observation_model(catalog, observation_model):
    frame = long("long_good.csv", catalog).frame
    validated = observation_model.validate(frame)
    assert validated.height == frame.height
    assert validated.schema["year"] == pl.Int32 and validated.schema["value"] == pl.Float64


def test_long_parquet_gives_the_same_rows_as_csv(catalog, tmp_path):
    from_csv = long("long_good.csv", catalog).frame
    as_text = pl.read_csv(CASES / "long_good.csv", infer_schema=False)
    typed = as_text.with_columns(pl.col("value").cast(pl.Float64), pl.col("as_of").str.to_date())
    for name, table in {"text.parquet": as_text, "typed.parquet": typed}.items():
        table.write_parquet(tmp_path / name)
        extract = long(tmp_path / name, catalog)
        assert extract.ok, extract.problems
        assert extract.frame.select(CANONICAL).equals(from_csv.select(CANONICAL)), name
        assert extract.frame["evidence"][0].startswith(f"{name} row 1: shootings,BE-BRU,2024,92")


def test_a_parquet_row_without_a_place_is_refused_though_every_other_place_is_known(catalog, tmp_path):
    # The place check is left out only when every row has a known place.
    table = pl.read_csv(CASES / "long_good.csv", infer_schema=False)
    table.with_columns(geo=pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise("geo")).write_parquet(
        tmp_path / "t.parquet"
    )
    extract = long(tmp_path / "t.parquet", catalog)
    assert [(p.check, p.line_no) for p in extract.problems] == [("bad_geo", 3)]


def test_long_table_of_cbs_districts_and_neighbourhoods_is_read(catalog, tmp_path):
    # long_good.csv with its Brussels rows moved to CBS regions as a CBS load names them (`NL-` and CBS's code).
    lines = (CASES / "long_good.csv").read_text(encoding="utf-8").splitlines()
    regions = iter(["NL-GM0363", "NL-WK036301", "NL-BU03630104", "NL-WK0363"])
    moved = [lines[0]] + [line.replace(",BE-BRU,", f",{next(regions)},", 1) for line in lines[1:5]]
    (tmp_path / "cbs.csv").write_text("\n".join(moved) + "\n", encoding="utf-8")
    extract = long(tmp_path / "cbs.csv", catalog)
    assert extract.frame["geo"].to_list() == ["NL-GM0363", "NL-WK036301", "NL-BU03630104"]
    # A district code needs the municipality's four digits and two of its own.
    assert [(p.check, p.line_no) for p in extract.problems] == [("bad_geo", 5)]
    assert "'NL-WK0363'" in extract.problems[0].message


def test_long_parquet_is_told_by_its_magic_bytes_not_its_name(catalog, tmp_path):
    pl.read_csv(CASES / "long_good.csv", infer_schema=False).write_parquet(tmp_path / "export.csv")
    extract = long(tmp_path / "export.csv", catalog)
    assert extract.ok and extract.frame.height == 9
    assert detect_table_kind(tmp_path / "export.csv") == "observations_long"


def test_long_parquet_problem_names_the_row(catalog, tmp_path):
    pl.DataFrame(
        {
            "indicator": ["shootings", "shootings"],
            "geo": ["BE-BRU", "BE-BRU"],
            "period": ["2024", "2023"],
            "value": [92.0, -1.0],
            "unit": ["count", "count"],
        }
    ).write_parquet(tmp_path / "t.parquet")
    extract = long(tmp_path / "t.parquet", catalog)
    assert checks(extract) == [("out_of_range", 2)]
    assert extract.problems[0].message.startswith("row 2: ")


def test_long_csv_with_semicolons_and_a_byte_order_mark(catalog, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffIndicator;Geo;Period;Value;Unit\r\nshootings;be-bru;2024; 92 ;count\r\n".encode())
    extract = long(path, catalog)
    assert extract.ok, extract.problems
    assert row(extract.frame, indicator_id="shootings")["geo"] == "BE-BRU"
    assert row(extract.frame, indicator_id="shootings")["value"] == 92.0


# --- long table: refused input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, expected",
    [
        ("long_ragged.csv", [("ragged_row", 3), ("ragged_row", 4), ("ragged_row", 5), ("ragged_row", 6)]),
        (
            "long_wrong_types.csv",
            [
                ("bad_number", 3),
                ("bad_number", 4),
                ("bad_period", 5),
                ("bad_period", 6),
                ("bad_period", 7),
                ("bad_as_of", 8),
                ("bad_qualifier", 9),
                ("bad_geo", 10),
                ("unit_mismatch", 11),
                ("out_of_range", 12),
                ("bad_number", 13),
            ],
        ),
        ("long_duplicates.csv", [("duplicate_key", 4), ("duplicate_key", 5)]),
        (
            "long_formula.csv",
            [
                ("formula_injection", 3),
                ("formula_injection", 5),
                ("unknown_indicator", 5),
                ("formula_injection", 6),
                ("formula_injection", 7),
                ("formula_injection", 8),
            ],
        ),
        ("long_unknown_indicator.csv", [("unknown_indicator", 3), ("unknown_indicator", 4)]),
        ("long_missing_column.csv", [("missing_column", 1), ("unknown_column", 1)]),
    ],
)
def test_long_bad_rows_are_problems_with_their_line(catalog, fixture, expected):
    extract = long(fixture, catalog)
    assert checks(extract) == expected
    assert not extract.ok


def test_long_problem_carries_the_raw_line(catalog):
    extract = long("long_wrong_types.csv", catalog)
    problem = extract.problems[0]
    assert problem.payload == "shootings,BE-BRU,2023,sixty-one,count,,"
    assert problem.describe("long_wrong_types.csv") == (
        "long_wrong_types.csv, line 3: bad_number: value 'sixty-one' is not a plain decimal number"
    )


def test_long_good_rows_of_a_refused_file_stay_visible(catalog):
    extract = long("long_duplicates.csv", catalog)
    assert extract.frame["_line_no"].to_list() == [2, 3, 6]


def test_long_messages_say_what_is_wrong(catalog):
    by_line = {p.line_no: p.message for p in long("long_ragged.csv", catalog).problems}
    assert by_line[3] == "expected 5 fields as in the header, found 6"
    assert by_line[4] == "expected 5 fields as in the header, found 4"
    assert "never closed" in by_line[6]
    duplicates = long("long_duplicates.csv", catalog).problems
    assert duplicates[1].message == "same indicator, geo and period as line 2"
    unknown = long("long_unknown_indicator.csv", catalog).problems
    assert "did you mean 'oci.cocaine_trade'" in unknown[0].message
    formula = long("long_formula.csv", catalog).problems
    assert "the note cell" in formula[0].message


def test_long_numbers_with_a_sign_are_not_formulas(catalog):
    frame = long("long_formula.csv", catalog).frame
    assert row(frame, year=2022)["value"] == 40.0  # '+40'


@pytest.mark.parametrize(
    "fixture, check, words",
    [
        ("long_empty.csv", "empty_file", "empty"),
        ("long_header_only.csv", "empty_file", "no rows"),
        ("long_bom_only.csv", "empty_file", "no text"),  # a UTF-8 byte-order mark and nothing else
        ("long_nul.csv", "binary_file", "line 3"),
        ("long_latin1.csv", "not_utf8", "line 3"),
    ],
)
def test_long_unreadable_files_are_one_file_problem(catalog, fixture, check, words):
    extract = long(fixture, catalog)
    assert checks(extract) == [(check, None)]
    assert words in extract.problems[0].message
    assert extract.frame.height == 0


def test_long_csv_with_bare_cr_line_endings_is_refused(catalog, tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"indicator,geo,period,value,unit\rshootings,BE-BRU,2024,92,count\r")
    assert checks(long(path, catalog)) == [("bad_line_endings", None)]


def test_long_file_over_the_size_limit_is_refused(catalog):
    extract = long("long_good.csv", catalog, max_bytes=100)
    assert checks(extract) == [("too_large", None)]


def test_long_problems_are_capped_and_counted(catalog, tmp_path):
    lines = ["indicator,geo,period,value,unit"] + [f"shootings,BE-BRU,{1900 + i % 200},x,count" for i in range(1500)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    problems = long(path, catalog).problems
    assert len(problems) == 1001
    listed = [p.line_no for p in problems[:-1]]
    assert listed == sorted(listed) and listed[0] == 2 and listed[-1] == 601  # file order, two checks per line
    summary = problems[-1]
    assert summary.check == "too_many_problems" and summary.line_no is None
    # 1500 bad numbers and, from row 202 on, 1300 repeated keys.
    assert "2,800 in all" in summary.message and "bad_number 1,500" in summary.message


def test_long_large_table_reads_without_row_loops(catalog, tmp_path):
    i = pl.int_range(0, 201_600).alias("i")
    year, month, day = 1900 + i % 200, 1 + (i // 200) % 12, 1 + (i // 2400) % 28
    pl.select(
        indicator=pl.lit("shootings"),
        geo=pl.lit(pl.Series(["BE", "NL", "BE-BRU"])).gather(i // 67_200),
        period=pl.format("{}-01-01/{}", year, pl.date(year, month, day).dt.strftime("%Y-%m-%d")),
        value=(i % 1000).cast(pl.String),
        unit=pl.lit("count"),
    ).write_csv(tmp_path / "big.csv")
    extract = long(tmp_path / "big.csv", catalog)
    assert extract.ok, extract.problems[:3]
    assert extract.frame.height == 201_600
    assert extract.frame["is_partial"].all()


# --- wide index table ------------------------------------------------------------------------------------


def test_wide_csv_maps_countries_and_columns(catalog):
    extract = wide("wide_countries.csv", catalog)
    assert extract.ok, extract.problems
    frame = extract.frame
    assert sorted(frame["geo"].unique()) == ["BE", "DE", "KR", "NL"]
    belgium = frame.filter(geo="BE")
    assert dict(zip(belgium["indicator_id"], belgium["value"])) == {
        "oci.criminality": 6.08,
        "oci.cocaine_trade": 8.0,
        "oci.human_trafficking": 5.5,
        "oci.resilience": 6.46,
    }
    cocaine = row(frame, geo="BE", indicator_id="oci.cocaine_trade")
    assert cocaine["evidence"] == "wide_countries.csv row 2: Belgium, Cocaine trade = 8.00"
    assert (cocaine["period_start"], cocaine["period_end"], cocaine["year"]) == (
        dt.date(2023, 1, 1),
        dt.date(2023, 12, 31),
        2023,
    )
    assert (cocaine["unit"], cocaine["qualifier"], cocaine["method"]) == ("score", "exact", "parsed")
    assert cocaine["is_partial"] is False


def test_wide_empty_and_not_available_cells_are_skipped(catalog):
    frame = wide("wide_countries.csv", catalog).frame
    assert frame.filter(geo="NL", indicator_id="oci.human_trafficking").height == 0  # empty cell
    assert frame.filter(geo="DE", indicator_id="oci.human_trafficking").height == 0  # n/a
    assert frame.height == 14


def test_wide_output_passes_the_observation_model(catalog, observation_model):
    frame = wide("wide_countries.csv", catalog).frame
    assert observation_model.validate(frame).height == frame.height


@pytest.mark.parametrize(
    "spelling",
    [
        "Netherlands",
        "The Netherlands",
        "NETHERLANDS",
        "NL",
        "NLD",
        "Netherlands (Kingdom of the)",
        "Kingdom of the Netherlands",
        "Nederland",
        "Holland",
    ],
)
def test_wide_country_spellings(catalog, tmp_path, spelling):
    path = tmp_path / "one.csv"
    path.write_text(f'Country,Cocaine trade\n"{spelling}",8.5\n')
    frame = wide(path, catalog).frame
    assert frame["geo"].to_list() == ["NL"]


@pytest.mark.parametrize(
    "spelling, code",
    [
        ("Belgium", "BE"),
        ("Belgique", "BE"),
        ("België", "BE"),
        ("BEL", "BE"),
        ("be", "BE"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Congo, Dem. Rep.", "CD"),
        ("Russia", "RU"),
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("St. Lucia", "LC"),
        ("Bahamas, The", "BS"),
        ("UK", "GB"),
        ("Kosovo", None),
        ("Brussels", None),
        ("", None),
    ],
)
def test_country_names_to_codes(spelling, code):
    assert country_code(spelling) == code


@pytest.mark.parametrize(
    "header, indicator_id",
    [
        ("Cocaine trade", "oci.cocaine_trade"),
        ("cocaine-trade", "oci.cocaine_trade"),
        ("COCAINE TRADE", "oci.cocaine_trade"),
        ("Criminality avg.", "oci.criminality"),
        ("Criminal markets avg.", "oci.criminal_markets"),
        ("Mafia-style groups", "oci.mafia_style_groups"),
        ("Cyber-dependent crimes", "oci.cyber_dependent_crimes"),
        ("Resilience", "oci.resilience"),
    ],
)
def test_wide_column_spellings(catalog, tmp_path, header, indicator_id):
    path = tmp_path / "one.csv"
    path.write_text(f'Rank,Country,"{header}",Region\n1,Belgium,5.25,Europe\n')
    extract = wide(path, catalog)
    assert extract.ok, extract.problems
    assert extract.frame["indicator_id"].to_list() == [indicator_id]


def test_wide_bad_cells_are_problems_with_their_row(catalog):
    extract = wide("wide_bad.csv", catalog)
    assert checks(extract) == [
        ("unknown_column", 1),
        ("unknown_country", 3),
        ("bad_number", 4),
        ("out_of_range", 5),
        ("duplicate_key", 6),
    ]
    by_check = {p.check: p for p in extract.problems}
    assert "'Piracy'" in by_check["unknown_column"].message
    assert "'Atlantis'" in by_check["unknown_country"].message
    assert by_check["bad_number"].message == "France, Cocaine trade: 'eight' is not a number"
    assert by_check["bad_number"].payload == "France,eight,5.00,,3"
    assert by_check["out_of_range"].message == "Spain, Cocaine trade: 11.00 is outside 1 to 10"


def test_wide_without_country_column_is_refused(catalog, tmp_path):
    path = tmp_path / "nocountry.csv"
    path.write_text("Nation,Cocaine trade\nBelgium,8\n")
    assert checks(wide(path, catalog)) == [("missing_column", None)]


def write_xlsx(path: Path, rows: list[list], *, title: str | None = None) -> None:
    """A workbook as Excel would save it: optional title row, then the table, scores shown with 2 decimals."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
        sheet.append([])
    for values in rows:
        sheet.append(values)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, float):
                cell.number_format = "0.00"
    workbook.save(path)


def wide_rows_as_xlsx_values() -> list[list]:
    rows = list(pl.read_csv(CASES / "wide_countries.csv", infer_schema=False).iter_rows())
    header = pl.read_csv(CASES / "wide_countries.csv", n_rows=0).columns
    header[header.index("Cocaine trade")] = "cocaine-trade"  # another spelling of the same column

    def typed(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return v

    return [header] + [[typed(v) for v in r] for r in rows]


def test_wide_xlsx_gives_the_same_rows_as_csv(catalog, tmp_path):
    path = tmp_path / "index.xlsx"
    write_xlsx(path, wide_rows_as_xlsx_values(), title="Global Organized Crime Index 2023")
    from_xlsx = wide(path, catalog)
    assert from_xlsx.ok, from_xlsx.problems
    from_csv = wide("wide_countries.csv", catalog).frame
    assert from_xlsx.frame.select(CANONICAL).equals(from_csv.select(CANONICAL))
    cocaine = row(from_xlsx.frame, geo="BE", indicator_id="oci.cocaine_trade")
    assert cocaine["evidence"] == "index.xlsx row 4: Belgium, cocaine-trade = 8.00"


def test_wide_xlsx_is_told_by_its_magic_bytes_not_its_name(catalog, tmp_path):
    write_xlsx(tmp_path / "real.xlsx", wide_rows_as_xlsx_values())
    shutil.copy(tmp_path / "real.xlsx", tmp_path / "index.csv")
    assert wide(tmp_path / "index.csv", catalog).frame.height == 14
    assert detect_table_kind(tmp_path / "index.csv", catalog) == "oci_wide"


def write_zip_bomb(path: Path, unzipped_mib: int) -> None:
    """A real workbook whose sheet is replaced by a huge run of zeros: it expands ~1000x."""
    write_xlsx(path.with_suffix(".seed.xlsx"), [["Country", "Cocaine trade"], ["Belgium", 8.0]])
    with (
        zipfile.ZipFile(path.with_suffix(".seed.xlsx")) as seed,
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bomb,
    ):
        for member in seed.infolist():
            if member.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(member, seed.read(member))
                continue
            with bomb.open("xl/worksheets/sheet1.xml", "w") as sheet:
                zeros = b"0" * (1024 * 1024)
                for _ in range(unzipped_mib):
                    sheet.write(zeros)


def test_wide_zip_bomb_is_refused_without_opening_it(catalog, tmp_path, monkeypatch):
    path = tmp_path / "bomb.xlsx"
    write_zip_bomb(path, unzipped_mib=256)
    assert path.stat().st_size < 2 * 1024 * 1024

    def never(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    extract = wide(path, catalog)
    assert checks(extract) == [("zip_bomb", None)]
    assert "refused without opening it" in extract.problems[0].message
    with pytest.raises(InputRefused, match="zip"):
        detect_table_kind(path, catalog)


def test_wide_highly_compressed_workbook_under_the_cap_is_still_refused(catalog, tmp_path):
    path = tmp_path / "dense.xlsx"
    write_zip_bomb(path, unzipped_mib=16)
    extract = wide(path, catalog)
    assert checks(extract) == [("zip_bomb", None)]
    assert "expand" in extract.problems[0].message


def test_wide_bad_edition_is_refused(catalog):
    assert checks(wide("wide_countries.csv", catalog, edition=23)) == [("bad_edition", None)]


# --- detection and registry ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, kind",
    [
        ("long_good.csv", "observations_long"),
        ("long_ragged.csv", "observations_long"),
        ("long_wrong_types.csv", "observations_long"),
        ("long_duplicates.csv", "observations_long"),
        ("long_formula.csv", "observations_long"),
        ("long_unknown_indicator.csv", "observations_long"),
        ("long_header_only.csv", "observations_long"),
        ("long_missing_column.csv", None),
        ("long_empty.csv", None),
        ("long_nul.csv", "observations_long"),  # detected by its header; the reader refuses the NUL byte
        ("long_latin1.csv", "observations_long"),  # likewise, refused by the reader as not UTF-8
        ("wide_countries.csv", "oci_wide"),
        ("wide_bad.csv", "oci_wide"),
    ],
)
def test_detect_table_kind_on_fixtures(catalog, fixture, kind):
    assert detect_table_kind(CASES / fixture, catalog) == kind
    assert detect_table_kind(CASES / fixture) == kind


def test_detect_table_kind_on_workbooks_and_documents(catalog, tmp_path):
    write_xlsx(tmp_path / "index.xlsx", wide_rows_as_xlsx_values(), title="GOCI 2023")
    assert detect_table_kind(tmp_path / "index.xlsx", catalog) == "oci_wide"
    write_xlsx(tmp_path / "other.xlsx", [["Country", "Population"], ["Belgium", 11.7]])
    assert detect_table_kind(tmp_path / "other.xlsx", catalog) is None
    write_xlsx(tmp_path / "long.xlsx", [["indicator", "geo", "period", "value", "unit"]])
    assert detect_table_kind(tmp_path / "long.xlsx", catalog) is None  # long tables are CSV or Parquet
    article = next((ROOT / "pipelines" / "documents").glob("000_*.txt"))
    assert detect_table_kind(article, catalog) is None


def test_registry_entries_read_tables_for_a_pipeline_spec(catalog):
    from octracker.content.documents import SourceMeta, read_document
    from octracker.content.specs import PipelineSpec
    from octracker.extract.extractors import EXTRACTORS

    def run(kind: str, path: Path, meta: SourceMeta):
        spec = PipelineSpec(name="t", path=path, extractor=kind, document=path, source=meta)
        return EXTRACTORS[kind](read_document(path, meta), spec, catalog)

    long = run("observations_long", CASES / "long_good.csv", SourceMeta(source_id="fedpol"))
    assert long.problems == [] and long.frame.height == 9 and set(long.frame["source_id"]) == {"fedpol"}
    wide = run("oci_wide", CASES / "wide_countries.csv", SourceMeta(source_id="goci", edition=2023))
    assert wide.problems == [] and set(wide.frame["year"]) == {2023}
    no_edition = run("oci_wide", CASES / "wide_countries.csv", SourceMeta(source_id="goci"))
    assert [p.check for p in no_edition.problems] == ["no_edition"]


#: A pipeline's long Parquet table read as `octracker refresh` reads it (through its extractor), in a process of its
#: own; it prints the modules it loaded.
READ_LONG_PARQUET = """
import json, sys
from pathlib import Path
from types import SimpleNamespace
from octracker.content.catalog import load_catalog
from octracker.extract.extractors import extract_long_observations
path = Path(sys.argv[1])
extract = extract_long_observations(
    SimpleNamespace(path=path, sha256="0" * 64),
    SimpleNamespace(document=None, source_id="test-source"),
    load_catalog(Path(sys.argv[2])),
)
assert extract.ok and extract.frame.height == 2, extract.problems
print(json.dumps(sorted(sys.modules)))
"""


def test_reading_a_long_parquet_table_loads_neither_the_workbook_readers_nor_pyarrows_file_systems(tmp_path):
    """A long table's reader opens a Parquet file's footer with pyarrow's own reader of it, not pyarrow.parquet, which
    imports pyarrow's file systems and with them ssl (7-15 ms), and is imported without the wide index reader, which
    loads the workbook readers (fastexcel, 5 ms): a small correction's refresh paid both."""
    path = tmp_path / "corrections.parquet"
    pl.read_csv(CASES / "long_good.csv", infer_schema=False).head(2).write_parquet(path)
    done = subprocess.run(
        [sys.executable, "-c", READ_LONG_PARQUET, str(path), str(ROOT / "schemas" / "indicators.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "pyarrow" in modules  # its footer is read
    assert sorted(modules & {"pyarrow.parquet", "pyarrow.fs", "ssl", "fastexcel", "octracker.extract.wide_index"}) == []
