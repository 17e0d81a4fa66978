"""Property and fuzz tests: the readers take any input and either read it or refuse it the documented way.

The documented refusal is an `Extract` whose `problems` say why (or `InputRefused` from detection); any other
exception is a crash. What must hold:
- the index profile parser never raises on any text; parse -> render -> parse gives the same blocks and the
  same text, and the scores read are the scores written;
- the long and wide table readers never raise on any bytes; what they read without a problem is within the
  catalog (a known indicator, its unit, its range, a known geography) and one row per key;
- the article candidate reader never raises on any text, and every candidate points into its sentence;
- routing an inbox file never raises except to refuse it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from octracker.content.catalog import Catalog, load_catalog
from octracker.content.documents import Document, SourceMeta, sha256_hex, text_fault
from octracker.content.specs import PipelineSpec
from octracker.countries import is_known_geo
from octracker.errors import InputRefused
from octracker.extract.candidates import propose_candidates
from octracker.extract.extractors import EXTRACTORS
from octracker.extract.inbox_routing import detect_kind
from octracker.extract.oci_profile import (
    ProfileBlock,
    ProfileScore,
    format_score_line,
    parse_oci_profile,
    printed_indicators,
    render_oci_profile,
)
from octracker.extract.sentences import flatten
from octracker.extract.tables import extract_long_table, extract_wide_index

#: Examples per test scale with OCTRACKER_FUZZ_SCALE (e.g. 20 for a long hunt); 1 keeps the suite fast.
SCALE = int(os.environ.get("OCTRACKER_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=100 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORKBOOKS = settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "schemas" / "indicators.toml")
PRINTED = [i.name for i in printed_indicators(CATALOG)]
COUNTRIES = ["Belgium", "the Netherlands", "Netherlands", "Korea, Rep.", "Côte d'Ivoire", "BE", "NLD", "Atlantis", ""]
#: Text that looks like parts of the formats: score lines, names, numbers, quotes, separators, odd characters.
TRICKY = st.sampled_from(
    [
        "5.330.10",
        "2.00-0.50",
        "5.50 n/a",
        "10.00n/a",
        "8.00.50",
        "1.00\u22120.25",
        "99.99-99.99",
        "",
        " ",
        "n/a",
        "For a better experience, please rotate your device",
        "Criminal markets",
        "Criminality avg.",
        "\ufeff",
        '"',
        '""',
        ",",
        ";",
        "\t",
        "=SUM(A1)",
        "@x",
        "+1",
        "-1",
        "1e308",
        "nan",
        "inf",
        "-0",
        "0x10",
        "1,000",
        "\u00a0",
        "\u2028",
        "\x00",
        "\r",
        "\r\n",
        "\ud7ff",
        "𝟘",
        "٣",
        "½",
    ]
)


def lines_of(parts) -> st.SearchStrategy[str]:
    return st.lists(parts, max_size=60).map("\n".join)


PROFILE_TEXT = lines_of(
    st.one_of(
        st.sampled_from(PRINTED),
        TRICKY,
        st.sampled_from(COUNTRIES).map(lambda c: f"{c} is a transit country."),
        st.text(max_size=30),
    )
)


def document(content: bytes, name: str, **meta) -> Document:
    return Document(path=Path(name), content=content, sha256=sha256_hex(content), meta=SourceMeta(**meta))


def spec_for(extractor: str, path: Path, **params) -> PipelineSpec:
    return PipelineSpec(
        name="fuzz",
        path=path,
        extractor=extractor,
        document=path,
        precedence=0,
        source=SourceMeta(source_id="fuzz", edition=params.get("edition")),
        params=params,
        full_snapshot=False,
    )


@pytest.fixture(scope="module")
def folder() -> Path:
    with tempfile.TemporaryDirectory(prefix="octracker-fuzz-") as name:
        yield Path(name)


def assert_read_rows_are_in_the_catalog(frame: pl.DataFrame, catalog: Catalog) -> None:
    event(f"read {min(frame.height, 2)}+ rows")
    for row in frame.iter_rows(named=True):
        indicator = catalog[row["indicator_id"]]
        assert row["unit"] == indicator.unit
        assert indicator.min <= row["value"] <= indicator.max
        assert is_known_geo(row["geo"]) and row["period_start"] <= row["period_end"]
    keys = frame.select("indicator_id", "geo", "period_start", "period_end")
    assert keys.height == keys.unique().height


# The index profile parser -------------------------------------------------------------------------------------------


@FUZZ
@given(text=PROFILE_TEXT | st.text())
def test_the_profile_parser_never_crashes(catalog, text):
    blocks, problems = parse_oci_profile(text, edition=2025, catalog=catalog)
    for block in blocks:
        assert all(Decimal("0") <= s.score < Decimal("100") for s in block.scores)
    extract = EXTRACTORS["oci_profile"](
        document(text.encode("utf-8", "surrogatepass"), "p.txt"),
        spec_for("oci_profile", Path("p.txt"), edition=2025),
        catalog,
    )
    if not extract.problems:
        assert_read_rows_are_in_the_catalog(extract.frame, catalog)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_the_profile_reader_refuses_any_bytes_the_documented_way(catalog, content):
    extract = EXTRACTORS["oci_profile"](
        document(content, "p.txt"), spec_for("oci_profile", Path("p.txt"), edition=2023), catalog
    )
    if text_fault(content) is not None:
        # Not clean text: refused as such, naming the line and byte, before any parsing.
        assert [(p.check, p.message) for p in extract.problems] == [text_fault(content)]
    elif not extract.problems:
        assert_read_rows_are_in_the_catalog(extract.frame, catalog)


DEFINITION = st.text(alphabet=st.sampled_from("abcdefghij klmnop,()"), min_size=1, max_size=40).map(
    lambda s: "The " + s.strip() + "."
)
#: Countries a generated block's narrative names, and the code the parser must tell from it.
NARRATED = {"Belgium": "BE", "the Netherlands": "NL", "Germany": "DE", "France": "FR"}


@st.composite
def profile_blocks(draw) -> list[ProfileBlock]:
    blocks = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        chosen = draw(st.lists(st.sampled_from(PRINTED), min_size=1, max_size=len(PRINTED), unique=True))
        ordered = [name for name in PRINTED if name in chosen]  # a block prints its indicators in index order
        scores = tuple(
            ProfileScore(
                None,
                name,
                Decimal(draw(st.integers(100, 1000))) / 100,
                draw(st.none() | st.integers(-900, 900).map(lambda n: Decimal(n) / 100)),
                0,
                draw(DEFINITION),
            )
            for name in ordered
        )
        country = draw(st.sampled_from(sorted(NARRATED)))
        narrative = (f"{country} is a hub of the cocaine trade.", f"Criminal groups in {country} launder profits.")
        blocks.append(ProfileBlock(country=NARRATED[country], edition=2025, scores=scores, narrative=narrative))
    return blocks


@FUZZ
@given(blocks=profile_blocks())
def test_profiles_round_trip_through_render_and_parse(catalog, blocks):
    written = render_oci_profile(blocks)
    parsed, problems = parse_oci_profile(written, edition=2025, catalog=catalog)
    assert [p for p in problems if p.check == "unparseable_score"] == []
    # The scores read are the scores written, block by block.
    assert [[(s.name, s.score, s.change) for s in b.scores] for b in parsed] == [
        [(s.name, s.score, s.change) for s in b.scores] for b in blocks
    ]
    assert [b.country for b in parsed] == [b.country for b in blocks]
    # parse -> render -> parse: the same blocks and the same text.
    again, _ = parse_oci_profile(render_oci_profile(parsed), edition=2025, catalog=catalog)
    assert again == parsed and render_oci_profile(again) == written
    assert all(format_score_line(s.score, s.change) in written for b in parsed for s in b.scores)


# The long and wide table readers --------------------------------------------------------------------------------------

LONG_HEADER = st.lists(
    st.sampled_from(
        [
            "indicator",
            "geo",
            "period",
            "value",
            "unit",
            "qualifier",
            "as_of",
            "source_url",
            "note",
            "Indicator ",
            "VALUE",
            "year",
            "",
        ]
    ),
    min_size=0,
    max_size=10,
)
LONG_CELL = st.one_of(
    st.sampled_from(
        [
            "shootings",
            "shooting_deaths",
            "oci.cocaine_trade",
            "cocaine_seized_tonnes",
            "BE-BRU",
            "BEANR",
            "BE",
            "EU",
            "XX",
            "2024",
            "2025-01-01/2025-09-10",
            "2025-02-30/2025-12-31",
            "1899",
            "92",
            "-5",
            "1e12",
            "count",
            "score",
            "tonnes",
            "approx",
            "lower_bound",
            "2025-09-10",
        ]
    ),
    TRICKY,
    st.text(max_size=12),
)


#: Places every reader knows: country codes, a region, a port, a port group, the Union.
GEOS = ["BE", "NL", "DE", "BE-BRU", "BEANR", "BEANR+BEZEE", "EU"]


@st.composite
def long_row(draw) -> list[str]:
    """A valid row of a long table: a catalog indicator with its unit and a value in its range."""
    indicator = draw(st.sampled_from(CATALOG.indicators))
    value = draw(st.floats(min_value=float(indicator.min), max_value=float(indicator.max), allow_nan=False))
    year = draw(st.integers(1990, 2030))
    period = draw(st.sampled_from([str(year), f"{year}-01-01/{year}-06-30", f"{year}-01-01/{year}-12-31"]))
    return [
        indicator.id,
        draw(st.sampled_from(GEOS)),
        period,
        f"{value:.6g}" if value < 1e6 else f"{value:.0f}",
        indicator.unit,
    ]


@st.composite
def long_tables(draw) -> bytes:
    """Mostly valid long tables, each cell possibly replaced by something hostile; or any header and cells."""
    separator = draw(st.sampled_from([",", ";"]))
    if draw(st.integers(0, 3)):
        header = ["indicator", "geo", "period", "value", "unit"]
        rows = draw(st.lists(long_row(), min_size=1, max_size=15))
        for row in rows:
            if draw(st.integers(0, 19)) == 0:  # one row in twenty gets a hostile cell
                row[draw(st.integers(0, 4))] = draw(LONG_CELL)
    else:
        header = draw(LONG_HEADER)
        rows = draw(st.lists(st.lists(LONG_CELL, min_size=0, max_size=len(header) + 2), max_size=20))
    text = "\n".join(separator.join(r) for r in [header, *rows])
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"])), "replace")


@FILES
@given(content=long_tables())
def test_the_long_table_reader_never_crashes_and_reads_only_valid_rows(catalog, folder, content):
    path = folder / "table.csv"
    path.write_bytes(content)
    extract = extract_long_table(path, source_id="fuzz", catalog=catalog)
    if not extract.problems:
        assert extract.frame.height > 0
        assert_read_rows_are_in_the_catalog(extract.frame, catalog)


def typed_column(size: int) -> st.SearchStrategy[list]:
    """A column of any Parquet type a spreadsheet export might produce."""
    return st.one_of(
        st.lists(
            st.sampled_from(["shootings", "BE-BRU", "2024", "count", "", "x"]) | st.none(), min_size=size, max_size=size
        ),
        st.lists(st.floats(allow_nan=True) | st.none(), min_size=size, max_size=size),
        st.lists(st.integers(-(10**12), 10**12), min_size=size, max_size=size),
        st.lists(st.dates(dt.date(1800, 1, 1), dt.date(2200, 1, 1)), min_size=size, max_size=size),
        st.lists(st.booleans(), min_size=size, max_size=size),
    )


@st.composite
def parquet_columns(draw) -> dict[str, list]:
    """The columns of a long table as Parquet: valid rows (value as a number), one column maybe of another type."""
    rows = draw(st.lists(long_row(), min_size=1, max_size=8))
    columns = {name: [r[i] for r in rows] for i, name in enumerate(["indicator", "geo", "period", "value", "unit"])}
    columns["value"] = [float(v) for v in columns["value"]]
    if draw(st.booleans()):
        name = draw(st.sampled_from(["indicator", "geo", "period", "value", "unit", "qualifier", "as_of", "other"]))
        columns[name] = draw(typed_column(len(rows)))
    return columns


@FILES
@given(columns=parquet_columns())
def test_the_long_table_reader_takes_any_parquet_columns(catalog, folder, columns):
    path = folder / "table.parquet"
    pl.DataFrame(columns, strict=False).write_parquet(path)
    extract = extract_long_table(path, source_id="fuzz", catalog=catalog)
    if not extract.problems:
        assert_read_rows_are_in_the_catalog(extract.frame, catalog)


WIDE_CELL = st.one_of(
    st.sampled_from(["8.00", "5.5", "11", "0", "n/a", "-", "..", "eight", " 6.25 ", "1e1"]),
    TRICKY,
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 50),
    st.booleans(),
    st.dates(),
)
WIDE_HEADER = st.lists(
    st.sampled_from(
        [
            *PRINTED[:6],
            "Country",
            "COUNTRY",
            "Rank",
            "Region",
            "Criminality avg.",
            "Resilience",
            "Piracy",
            "",
            "Cocaine trade",
        ]
    ),
    max_size=8,
)


@st.composite
def wide_rows(draw) -> list[list[object]]:
    """Mostly valid wide index tables (scores as text or numbers), with hostile cells and headers mixed in."""
    title = draw(st.lists(st.lists(st.text(max_size=10), max_size=2), max_size=2))
    if draw(st.booleans()):
        header = ["Country", *draw(st.lists(st.sampled_from(PRINTED), min_size=1, max_size=6, unique=True))]
        countries = draw(st.lists(st.sampled_from(COUNTRIES[:5]), min_size=1, max_size=5, unique=True))
        score = st.decimals(1, 10, places=2).map(str) | st.floats(1, 10) | st.just("n/a")
        body = [
            [country, *draw(st.lists(score, min_size=len(header) - 1, max_size=len(header) - 1))]
            for country in countries
        ]
        for row in body:
            if draw(st.integers(0, 9)) == 0:
                row[draw(st.integers(0, len(row) - 1))] = draw(WIDE_CELL)
    else:
        header = draw(WIDE_HEADER)
        body = draw(st.lists(st.lists(st.sampled_from(COUNTRIES) | WIDE_CELL, max_size=len(header) + 1), max_size=12))
    return [*title, header, *body]


@FILES
@given(rows=wide_rows())
def test_the_wide_table_reader_never_crashes_on_csv(catalog, folder, rows):
    path = folder / "index.csv"
    path.write_bytes("\n".join(",".join(_csv_cell(c) for c in r) for r in rows).encode("utf-8", "surrogatepass"))
    extract = extract_wide_index(path, source_id="fuzz", edition=2025, catalog=catalog)
    if not extract.problems:
        assert_read_rows_are_in_the_catalog(extract.frame, catalog)


@FILES
@given(content=st.binary(max_size=3000), name=st.sampled_from(["t.csv", "t.xlsx", "t.parquet"]))
def test_both_table_readers_refuse_any_bytes_the_documented_way(catalog, folder, content, name):
    path = folder / name
    path.write_bytes(content)
    for extract in (
        extract_long_table(path, source_id="fuzz", catalog=catalog),
        extract_wide_index(path, source_id="fuzz", edition=2025, catalog=catalog),
    ):
        if not extract.problems:
            assert_read_rows_are_in_the_catalog(extract.frame, catalog)


@WORKBOOKS
@given(rows=wide_rows())
def test_the_wide_table_reader_never_crashes_on_workbooks(catalog, folder, rows):
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append([_printable(c) for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = folder / "index.xlsx"
    path.write_bytes(buffer.getvalue())
    extract = extract_wide_index(path, source_id="fuzz", edition=2025, catalog=catalog)
    if not extract.problems:
        assert_read_rows_are_in_the_catalog(extract.frame, catalog)


def _printable(cell: object) -> object:
    # openpyxl refuses control characters (and lone surrogates) in cells; a spreadsheet never holds them.
    if not isinstance(cell, str):
        return cell
    return "".join(ch for ch in cell if (ch >= " " or ch in "\t\n") and not "\ud800" <= ch <= "\udfff")


def _csv_cell(cell: object) -> str:
    """A cell as a CSV writer would put it: quoted when it holds a separator, a quote or a line break."""
    text = str(cell)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(ch in text for ch in ',"\n\r') else text


# The article candidate reader ---------------------------------------------------------------------------------------

ARTICLE_WORDS = st.sampled_from(
    [
        "In 2024",
        "Brussels",
        "recorded",
        "nearly",
        "over",
        "92",
        "1,461",
        "one-third",
        "shootings",
        "so far this year",
        "since January",
        "by 19 December",
        "tons of cocaine",
        "were seized",
        "at the port of Antwerp",
        "in 2023.",
        "per 100,000",
        "residents",
        "9",
        "deaths",
        "€3.5 million",
        "6:30 p.m.",
        "aged 17",
        "41%",
        "12-15",
        "2025-09-10",
        "the Netherlands",
        "Mr. Smith",
        "U.S.",
        "\u201cquote\u201d",
        "\n\n",
        ". ",
        "?",
        "(",
        ")",
        "—",
    ]
)


@FUZZ
@given(
    text=st.lists(ARTICLE_WORDS | TRICKY | st.text(max_size=10), max_size=80).map(" ".join) | st.text(),
    published=st.none() | st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)),
)
def test_the_candidate_reader_never_crashes_and_points_into_its_sentences(catalog, text, published):
    found = propose_candidates(text, catalog=catalog, published=published)
    lines = text.count("\n") + 1
    for c in found:
        assert c.raw in flatten(c.sentence) and flatten(c.sentence) in flatten(text)
        assert 0 < c.confidence <= 1 and 1 <= c.line_no <= lines
        assert c.indicator_id is None or c.indicator_id in catalog
        assert c.number == c.number and abs(c.number) < float("inf")  # a number, never NaN or infinite


# Routing ------------------------------------------------------------------------------------------------------------


@FILES
@given(
    content=long_tables() | st.binary(max_size=2000) | PROFILE_TEXT.map(str.encode),
    name=st.sampled_from(["x.csv", "x.txt", "x.xlsx", "x.parquet", "x"]),
)
def test_routing_any_file_gives_a_kind_none_or_a_refusal(catalog, folder, content, name):
    path = folder / name
    path.write_bytes(content)
    try:
        kind = detect_kind(path, content, catalog)
    except InputRefused:
        return
    assert kind in (None, "observations_long", "oci_wide", "oci_profile")
