"""A large SDMX-CSV download cites each value by its line (file, sha256, line number), and `octracker evidence` and
the report print that line from the raw store.

The large files are derived from the recorded Eurostat download (tests/cases/publishers/eurostat/sdg_04_20.csv):
its 1,608 rows repeated under other age groups (`From 25 to 34 years (copy 7)`), so that every copy is a series
of its own, until the file holds the rows a large table has.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import query, run_cli
from octracker.content.catalog import load_catalog
from octracker.extract import long_table
from octracker.extract.long_table import table_row_texts
from octracker.extract.publishers import sdmx_csv
from octracker.extract.publishers.canonical import publisher_extract
from octracker.serve.evidence import with_cited_rows
from publisher_cases import EUROSTAT

SDG = EUROSTAT / "sdg_04_20.csv"
CATALOG = Path(__file__).resolve().parents[2] / "schemas" / "indicators.toml"
AGE = "From 25 to 34 years"


def derived(tmp_path, rows: int, name: str = "sdg_04_20_large.csv", *, quote: bool = False) -> bytes:
    """The recorded download repeated under other age groups until it has at least `rows` rows; `quote` writes
    every geography quoted, as a file the column-wise reading does not take."""
    header, *lines = SDG.read_text(encoding="utf-8").splitlines()
    out = [header]
    copy = 0
    while len(out) - 1 < rows:
        age = AGE if copy == 0 else f"{AGE} (copy {copy})"
        out += [line.replace(f",{AGE},", f",{age},") for line in lines]
        copy += 1
    text = "\n".join(out) + "\n"
    if quote:
        text = text.replace(",Austria,", ',"Austria",')
    content = text.encode()
    (tmp_path / name).write_bytes(content)
    return content


def cited(table, name: str):
    """The table's values as a file of this name, kept in the raw store, gives them."""
    return publisher_extract(table, source_id="s", catalog=load_catalog(CATALOG), document=(name, "0" * 64))


def line_of(content: bytes, number: int) -> str:
    return content.decode().split("\n")[number - 1]


def test_a_large_download_cites_its_lines_and_evidence_prints_the_values_record(scratch_project, tmp_path):
    content = derived(tmp_path, long_table.REFERENCE_FROM_ROWS)
    sha = hashlib.sha256(content).hexdigest()
    done = run_cli(scratch_project, "ingest", str(tmp_path / "sdg_04_20_large.csv"))
    assert done.exit_code == 0, done.output
    # Belgium's women of 25-34 in 2012, in the third copy of the series.
    series = "estat.sdg_04_20.annual.females.from_25_to_34_years_copy_3.percentage.tertiary_education_levels_5_8"
    [(source, evidence, number)] = query(
        scratch_project,
        "SELECT source_id, evidence, evidence_row FROM observation_history "
        "WHERE valid_to IS NULL AND indicator_id = ? AND geo = 'BE' AND year = 2012",
        [series],
    )
    assert evidence == f"sdg_04_20_large.csv (sha256 {sha}) line"
    record = line_of(content, number)
    assert record.startswith(f"ESTAT:SDG_04_20(1.0),12/06/25 23:00:00,Annual,Females,{AGE} (copy 3),")
    assert ",Belgium,2012," in record

    out = run_cli(scratch_project, "evidence", "--indicator", series, "--geo", "BE", "--period", "2012")
    assert out.exit_code == 0, out.output
    value = record.split(",")[9]
    assert out.output.splitlines() == [
        f"{series}  BE  2012  {value}  (source {source})",
        f"  cited: sdg_04_20_large.csv (sha256 {sha}) line {number}",
        f"  {record}",
    ]
    by_line = run_cli(scratch_project, "evidence", "--source", source, "--row", "2")
    assert by_line.exit_code == 0, by_line.output
    assert by_line.output.splitlines()[-1] == f"  {line_of(content, 2)}"
    # The report shows the record in place of the reference.
    cited = f"{evidence} {number}"
    assert with_cited_rows(scratch_project.raw_dir, [(cited, source)]) == {(cited, source): f"{record} ({cited})"}


def test_every_value_of_a_large_download_cites_the_line_of_its_own_record(tmp_path):
    content = derived(tmp_path, long_table.REFERENCE_FROM_ROWS)
    table = sdmx_csv.read(content, name="large.csv")
    extract = cited(table, "large.csv")
    frame = extract.frame
    assert frame.height > 0 and frame.get_column("_evidence_row").is_not_null().all()
    sample = frame.gather_every(997)
    lines = content.decode().split("\n")
    assert sample.get_column("_raw").to_list() == [lines[n - 1] for n in sample.get_column("_evidence_row")]
    path = tmp_path / "sdg_04_20_large.csv"
    assert table_row_texts(path, sample.get_column("_evidence_row").to_list()) == sample.get_column("_raw").to_list()


def test_a_quoted_download_read_row_by_row_cites_the_same_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)
    content = derived(tmp_path, 3000, quote=True)
    table = sdmx_csv.read(content, name="quoted.csv")
    assert table.cites_lines
    frame = cited(table, "quoted.csv").frame
    austria = frame.filter(frame.get_column("geo") == "AT")
    rows = austria.get_column("_evidence_row").to_list()
    texts = table_row_texts(tmp_path / "sdg_04_20_large.csv", rows)
    assert all(',"Austria",' in text for text in texts)
    assert texts == [line_of(content, n) for n in rows]


def test_a_record_over_two_lines_keeps_the_values_text_as_evidence(tmp_path, monkeypatch):
    """A line number could not tell where such a record starts as the row-by-row reading counts it."""
    monkeypatch.setattr(long_table, "REFERENCE_FROM_ROWS", 1)
    cell = b",Tertiary education (levels 5-8),"
    content = derived(tmp_path, 3000, quote=True).replace(cell, b',"Tertiary education\n(levels 5-8)",', 1)
    table = sdmx_csv.read(content, name="quoted.csv")
    assert table.ok and not table.cites_lines
    frame = cited(table, "quoted.csv").frame
    assert frame.get_column("_evidence_row").is_null().all()
    assert frame.get_column("evidence").str.starts_with("s: estat.sdg_04_20.").all()


def test_a_small_download_keeps_each_values_text(tmp_path):
    table = sdmx_csv.read(SDG.read_bytes(), name=SDG.name)
    frame = cited(table, SDG.name).frame
    assert frame.get_column("_evidence_row").is_null().all()
    assert not frame.get_column("evidence").str.contains("sha256").any()
