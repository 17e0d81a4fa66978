"""How cheaply a publisher's feed finds out nothing changed, on its recorded answers served over 127.0.0.1.

An unchanged answer (a 304, the same bytes, or other bytes of the vintage already loaded) is never parsed and
writes nothing but the feed's state and its run; a new vintage is loaded (the UNODC release date on row 2)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import fastexcel
import pytest

from conftest import query
from octracker.extract.publishers import unodc_xlsx
from octracker.extract.publishers.kinds import PUBLISHER_KINDS, PublisherKind
from octracker.extract.publishers.workbooks import head_rows
from publisher_cases import CASES, EUROSTAT
from publisher_server import Publisher, Route, publisher, refresh, write_spec  # noqa: F401 (publisher: a fixture)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNODC = CASES / "unodc" / "data_cts_violent_and_sexual_crime.xlsx"


def minified(content: bytes) -> bytes:
    return json.dumps(json.loads(content)).encode()


def line_feeds(content: bytes) -> bytes:
    """The download with LF line ends (Eurostat writes CRLF)."""
    assert b"\r\n" in content
    return content.replace(b"\r\n", b"\n")


def rezipped(content: bytes, replace: tuple[bytes, bytes] | None = None) -> bytes:
    """The same workbook in other bytes (another compression level), optionally with one shared string changed."""
    return edited(content, {"xl/sharedStrings.xml": lambda data: data.replace(*replace)} if replace else {})


def edited(content: bytes, edits: dict) -> bytes:
    """The workbook zipped again (compression level 1), each member named in `edits` passed through its edit."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename in edits:
                changed = edits[info.filename](data)
                assert changed != data, f"the edit of {info.filename} found nothing to change"
                data = changed
            target.writestr(info.filename, data, compresslevel=1)
    return out.getvalue()


CASES_BY_KIND = {
    "jsonstat": (EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json", "application/json", minified),
    "sdmx_csv": (EUROSTAT / "sdg_04_20.csv", "text/csv", line_feeds),
    "unodc_xlsx": (UNODC, XLSX, rezipped),
}


def warehouse_state(settings) -> dict:
    """Everything an unchanged feed must leave as it was: values, sources, quarantine, the raw store."""
    raw = sorted(p.relative_to(settings.raw_dir) for p in Path(settings.raw_dir).rglob("*") if p.is_file())
    return {
        "history": query(settings, "SELECT * FROM observation_history ORDER BY ALL"),
        "sources": query(settings, "SELECT * FROM sources ORDER BY ALL"),
        "quarantine": query(settings, "SELECT COUNT(*) FROM quarantine"),
        "raw": raw,
    }


@pytest.mark.parametrize("kind", sorted(CASES_BY_KIND))
def test_an_unchanged_answer_is_never_parsed_and_writes_only_state_and_run(
    scratch_project, publisher, kind, monkeypatch
):
    path, content_type, other_bytes = CASES_BY_KIND[kind]
    body = path.read_bytes()
    publisher.routes["/feed"] = Route(body, content_type=content_type, etag='"1"')
    write_spec(scratch_project, "followed", kind, publisher.url("/feed"))
    done, [first] = refresh(scratch_project, "followed")
    assert done.exit_code == 0 and first["status"] == "success" and first["new"] > 0, done.output
    before = warehouse_state(scratch_project)

    def no_parse(self, content, *, name, catalog):
        raise AssertionError(f"{self.name} answer parsed although unchanged")

    monkeypatch.setattr(PublisherKind, "read", no_parse)
    _, [not_modified] = refresh(scratch_project, "followed")
    publisher.routes["/feed"] = Route(body, content_type=content_type)
    _, [same_bytes] = refresh(scratch_project, "followed")
    publisher.routes["/feed"] = Route(other_bytes(body), content_type=content_type)
    _, [same_vintage] = refresh(scratch_project, "followed")
    assert [r["status"] for r in (not_modified, same_bytes, same_vintage)] == ["unchanged"] * 3, same_vintage
    assert "304" in not_modified["subject"] and "same content" in same_bytes["subject"]
    assert "same vintage" in same_vintage["subject"]
    assert warehouse_state(scratch_project) == before
    assert query(scratch_project, "SELECT status, COUNT(*) FROM runs WHERE pipeline = 'followed' GROUP BY ALL") == [
        ("success", 4)
    ]
    assert query(scratch_project, "SELECT COUNT(*) FROM feed_state WHERE pipeline = 'followed'") == [(1,)]


def test_a_new_unodc_release_is_loaded_as_a_new_vintage(scratch_project, publisher):
    body = UNODC.read_bytes()
    publisher.routes["/cts.xlsx"] = Route(body, content_type=XLSX)
    write_spec(scratch_project, "unodc_cts", "unodc_xlsx", publisher.url("/cts.xlsx"))
    _, [first] = refresh(scratch_project, "unodc_cts")
    assert first["status"] == "success"
    publisher.routes["/cts.xlsx"] = Route(
        rezipped(body, (b"<t>16/05/2024</t>", b"<t>14/11/2024</t>")), content_type=XLSX
    )
    _, [second] = refresh(scratch_project, "unodc_cts")
    assert (second["status"], second["new"], second["revised"], second["unchanged"]) == ("success", 0, 0, first["new"])
    assert query(scratch_project, "SELECT published_on::VARCHAR FROM sources WHERE source_id = 'unodc_cts'") == [
        ("2024-11-14",)
    ]
    assert query(scratch_project, "SELECT vintage::VARCHAR FROM feed_state WHERE pipeline = 'unodc_cts'") == [
        ("2024-11-14 00:00:00",)
    ]


def release_date_as_a_date_cell(content: bytes) -> bytes:
    """The recorded export with its release date (row 2) written as a date cell (16/05/2024 is Excel's day 45428)
    instead of the text the portal writes: its text is then a matter of the cell's number format."""
    date_style = b'<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    return edited(
        content,
        {
            "xl/styles.xml": lambda data: data.replace(b'<cellXfs count="2">', b'<cellXfs count="3">').replace(
                b"</cellXfs>", date_style
            ),
            "xl/worksheets/sheet1.xml": lambda data: data.replace(
                b'<c r="A2" t="s"><v>1</v></c>', b'<c r="A2" s="2"><v>45428</v></c>'
            ),
        },
    )


def with_byte_order_mark(content: bytes) -> bytes:
    """The recorded body as an editor that writes a UTF-8 byte order mark saves it."""
    return "\ufeff".encode() + content


def cells_left_out(content: bytes) -> bytes:
    """The recorded export with empty cells left out of rows, as spreadsheets write them: the release date moved
    from A2 to C2 (no A2 or B2 in the file) and the header's Region cell (C3) removed."""
    return edited(
        content,
        {
            "xl/worksheets/sheet1.xml": lambda data: data.replace(
                b'<c r="A2" t="s"><v>1</v></c>', b'<c r="C2" t="s"><v>1</v></c>'
            ).replace(b'<c r="C3" t="s"><v>4</v></c>', b"")
        },
    )


@pytest.mark.parametrize(
    "kind, path, variant",
    [
        ("jsonstat", EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json", None),
        ("jsonstat", EUROSTAT / "sts-inpr-m-ie-confidential.json", None),
        ("jsonstat", EUROSTAT / "comext" / "ds-059358-de-2022.json", None),
        ("jsonstat", EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json", with_byte_order_mark),
        ("sdmx_csv", EUROSTAT / "sdg_04_20.csv", None),
        ("unodc_xlsx", UNODC, None),
        ("unodc_xlsx", UNODC, release_date_as_a_date_cell),
        ("unodc_xlsx", UNODC, cells_left_out),
    ],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "name", getattr(v, "__name__", "as recorded")),
)
def test_the_cheap_look_at_the_vintage_agrees_with_reading_the_whole_answer(kind, path, variant, catalog):
    publisher_kind = PUBLISHER_KINDS[kind]
    content = variant(path.read_bytes()) if variant else path.read_bytes()
    whole = publisher_kind.read(content, name=path.name, catalog=catalog).updated
    assert whole is not None
    assert publisher_kind.vintage(content, name=path.name, catalog=catalog) == whole


def test_a_unodc_release_date_is_read_from_the_start_of_the_sheet_alone():
    """The release date on row 2 is read without the rest of the sheet: the recorded export cut off after its
    first eleven rows (no longer a readable workbook) still says the date the whole export says."""
    # Not well-formed XML past the first rows.
    cut = edited(UNODC.read_bytes(), {"xl/worksheets/sheet1.xml": lambda data: data[: data.index(b'<row r="12"')]})
    assert unodc_xlsx.vintage(cut, name=UNODC.name) == dt.datetime(2024, 5, 16, tzinfo=dt.UTC)


def test_the_first_rows_read_from_the_sheet_keep_each_cell_in_its_column():
    """A row that leaves a cell out (a variant of the recorded export, see `cells_left_out`) does not shift the
    cells after it left: the cheap read of the first rows gives every text cell where the whole read has it."""
    content = cells_left_out(UNODC.read_bytes())
    head = head_rows(content, 5)
    whole = fastexcel.read_excel(content).load_sheet(0, header_row=None, n_rows=5, dtypes="string").to_polars()
    assert head is not None and head[1][2] == "16/05/2024" and head[2][2:4] == ["", "Subregion"]
    for got, row in zip(head, whole.rows(), strict=True):
        assert len(got) <= len(row)
        # A number cell is None in the cheap read (its text depends on the cell's format).
        assert [c for c in got if c is not None] == [row[i] or "" for i, c in enumerate(got) if c is not None]


def test_a_unodc_export_built_to_expand_is_not_unzipped_for_its_release_date():
    """The recorded export with 300 MiB of spaces after its shared strings (a few hundred KB zipped): the look at the
    first rows stops at the archive's directory, and so does the usual reader; no date is read from it."""
    padded = edited(UNODC.read_bytes(), {"xl/sharedStrings.xml": lambda data: data + b" " * (300 * 1024 * 1024)})
    assert len(padded) < 3 * 1024 * 1024
    assert head_rows(padded, 10) is None
    assert unodc_xlsx.vintage(padded, name=UNODC.name) is None
    assert "refused without opening it" in unodc_xlsx.read(padded, name=UNODC.name).problems[0].message


def test_the_index_workbook_can_be_followed_as_a_download(scratch_project, publisher):
    workbook = (CASES / "global-oc-index" / "global_oc_index.xlsx").read_bytes()
    publisher.routes["/downloads/global_oc_index.xlsx"] = Route(workbook, content_type=XLSX, etag='"2023"')
    write_spec(scratch_project, "oci_workbook_feed", "oci_workbook", publisher.url("/downloads/global_oc_index.xlsx"))
    done, [first] = refresh(scratch_project, "oci_workbook_feed")
    assert done.exit_code == 0 and first["status"] == "success", done.output
    editions = query(
        scratch_project,
        "SELECT year, COUNT(DISTINCT geo) FROM observations WHERE source_id = 'oci_workbook_feed' "
        "AND indicator_id = 'oci.criminality' GROUP BY year ORDER BY year",
    )
    assert [year for year, _ in editions] == [2021, 2023] and all(n > 150 for _, n in editions)
    _, [second] = refresh(scratch_project, "oci_workbook_feed")
    assert second["status"] == "unchanged" and "304" in second["subject"]
