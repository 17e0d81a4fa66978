"""A golden output for every recorded publisher answer in tests/cases/publishers: what its reader makes of it.

Each answer (each Eurostat file, each CBS table's answers bundled, the UNODC export, the index workbook) has
`tests/golden/publishers/answers/<answer>.json`: the table's provider, dataset, title and vintage, how many
rows, series, places and periods it gives, its flags, and every problem (a refusal) or row left out, with the
reason. Small tables also have `<answer>.csv`, every row as read. A reader that reads an answer otherwise fails
here; after a deliberate change, `OCTRACKER_UPDATE_GOLDEN=1` rewrites the files: review the diff before committing.
A file no reader takes (the Comext TSV downloads) is pinned as such, so a new recorded file cannot go unpinned.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from conftest import updating_goldens
from octracker.extract.publishers.kinds import PUBLISHER_KINDS, detect_publisher_kind
from publisher_cases import CASES, CBS_80072NED, CBS_80137NED, CBS_83599NED, GOLDEN, cbs_bundle

ANSWERS = GOLDEN / "answers"
#: Tables whose every row goes in a CSV golden (larger ones have their rows pinned for BE and NL elsewhere).
ROWS_IN_FULL = 1_000
CBS_TABLES = {"cbs-80137ned": CBS_80137NED, "cbs-83599ned": CBS_83599NED, "cbs-80072ned": CBS_80072NED}
#: Kinds of the recorded files by folder; Eurostat's by extension (its error bodies are JSON-stat answers too).
KIND_BY_FOLDER = {"unodc": "unodc_xlsx", "global-oc-index": "oci_workbook"}
EUROSTAT_KINDS = {".json": "jsonstat", ".xml": "jsonstat", ".csv": "sdmx_csv"}
ROW = re.compile(r"^.*?row \d+: ")


def recorded_files() -> list[Path]:
    return sorted(
        p
        for folder in ("eurostat", "unodc", "global-oc-index")
        for p in (CASES / folder).rglob("*")
        if p.is_file() and p.name != "README.md"
    )


def answer_name(path: Path) -> str:
    return path.relative_to(CASES).as_posix().replace("/", "__")


def kind_of(path: Path) -> str | None:
    folder = path.relative_to(CASES).parts[0]
    if folder == "eurostat":
        return EUROSTAT_KINDS.get(path.suffix)
    return KIND_BY_FOLDER.get(folder) if path.suffix == ".xlsx" else None


def summary(kind: str | None, content: bytes, name: str, catalog) -> tuple[dict, pl.DataFrame | None]:
    if kind is None:
        return {"kind": None, "detected_kind": detect_publisher_kind(content)}, None
    table = PUBLISHER_KINDS[kind].read(content, name=name, catalog=catalog)
    frame = table.frame
    flags = Counter(f for f in frame["flags"].to_list() if f is not None)
    return {
        "kind": kind,
        "provider": table.provider,
        "dataset": table.dataset,
        "title": table.title,
        "updated": table.updated.isoformat() if table.updated else None,
        "rows": frame.height,
        "rows_with_a_value": frame.height - frame["value"].null_count(),
        "series": frame["native_id"].n_unique(),
        "geos": frame["geo"].n_unique(),
        "periods": [frame["period_start"].min().isoformat(), frame["period_end"].max().isoformat()]
        if frame.height
        else None,
        "flags": dict(sorted(flags.items())),
        "problems": [[p.check, p.message, p.line_no] for p in table.problems],
        # Rows left out, counted by reason (the row number taken out of the message).
        "left_out": dict(sorted(Counter(f"{p.check}: {ROW.sub('', p.message)}" for p in table.left_out).items())),
    }, frame if 0 < frame.height <= ROWS_IN_FULL else None


def check_golden(name: str, found: dict, frame: pl.DataFrame | None) -> None:
    json_path, csv_path = ANSWERS / f"{name}.json", ANSWERS / f"{name}.csv"
    if updating_goldens():
        ANSWERS.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(found, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if frame is not None:
            frame.write_csv(csv_path)
        else:
            csv_path.unlink(missing_ok=True)
    assert json.loads(json_path.read_text(encoding="utf-8")) == found
    assert csv_path.exists() == (frame is not None)
    if frame is not None:
        assert_frame_equal(frame, pl.read_csv(csv_path, schema=frame.schema))


@pytest.mark.parametrize("path", recorded_files(), ids=answer_name)
def test_each_recorded_answer_reads_as_its_golden_output(path, catalog):
    found, frame = summary(kind_of(path), path.read_bytes(), path.name, catalog)
    check_golden(answer_name(path), found, frame)


@pytest.mark.parametrize("table", sorted(CBS_TABLES))
def test_each_recorded_cbs_table_reads_as_its_golden_output(table, catalog):
    found, frame = summary("cbs_odata", cbs_bundle(CBS_TABLES[table]), f"{table}.zip", catalog)
    check_golden(table, found, frame)


def test_every_golden_output_belongs_to_a_recorded_answer():
    expected = {answer_name(p) for p in recorded_files()} | set(CBS_TABLES)
    assert {p.stem for p in ANSWERS.iterdir()} == expected
