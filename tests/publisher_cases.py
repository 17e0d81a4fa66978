"""The recorded publisher answers in tests/cases/publishers, and the CBS bundles made of them unchanged."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from conftest import updating_goldens
from octracker.extract.publishers.cbs_odata import bundle_answers

CASES = Path(__file__).resolve().parent / "cases" / "publishers"
EUROSTAT = CASES / "eurostat"
CBS = CASES / "cbs"

#: Which recorded answer is which endpoint (tests/cases/publishers/cbs/README.md).
CBS_80137NED = {
    "TableInfos": ["v3/CBSOData3jl-meta_2.json"],
    "CategoryGroups": ["v3/CBSOData3jl-meta_3.json"],
    "Persoonskenmerken": ["v3/CBSOData3jl-meta_4.json"],
    "BedrijfstakkenSBI93": ["v3/CBSOData3jl-meta_5.json"],
    "Perioden": ["v3/CBSOData3jl-meta_6.json"],
    "DataProperties": ["v3/CBSOData3jl-meta_7.json"],
    "TypedDataSet": ["v3/CBSOData3jl-meta_8.json"],
}
CBS_83599NED = {"UntypedDataSet": ["v3/CBSOData3jl-tables_2.json", "v3/CBSOData3jl-tables_3.json"]}
CBS_80072NED = {
    "Observations": ["v4/CBSOData4jl-meta_4.json"],
    "MeasureCodes": ["v4/CBSOData4jl-meta_5.json"],
    "Dimensions": ["v4/CBSOData4jl-meta_6.json"],
    "Properties": ["v4/CBSOData4jl-meta_7.json"],
    "PeriodenGroups": ["v4/CBSOData4jl-meta_8.json"],
    "PeriodenCodes": ["v4/CBSOData4jl-meta_9.json"],
    "BedrijfskenmerkenSBI2008Groups": ["v4/CBSOData4jl-meta_10.json"],
    "BedrijfskenmerkenSBI2008Codes": ["v4/CBSOData4jl-meta_11.json"],
}

#: A catalog entry following CBS's recorded sick leave table (80072ned, all branches), whose last quarter (2020 Q1)
#: is provisional (`Voorlopig` in the recorded PeriodenCodes).
SICK_LEAVE = """
[[indicator]]
id = "sick_leave_rate"
name = "Sick leave rate"
unit = "percent"
direction = "up_is_bad"
frequency = "quarterly"
min = 0
max = 100
native = ["cbs.80072ned.t001081.m001924"]

[[unit]]
name = "percent"
pint = "percent"
aliases = ["%"]
"""


def cbs_answers(endpoints: dict[str, list[str]]) -> dict[str, list[bytes]]:
    """Endpoint → the recorded bodies of its pages, byte for byte."""
    return {endpoint: [(CBS / f).read_bytes() for f in files] for endpoint, files in endpoints.items()}


def cbs_bundle(endpoints: dict[str, list[str]]) -> bytes:
    """The bundle `ingest --kind cbs_odata` reads, made of the recorded answers."""
    return bundle_answers(cbs_answers(endpoints))


GOLDEN = Path(__file__).resolve().parent / "golden" / "publishers"


def assert_matches_golden(frame, name: str) -> None:
    """The frame equals tests/golden/publishers/<name>.csv (OCTRACKER_UPDATE_GOLDEN=1 writes it after a
    deliberate change to a reader; review the diff before committing it)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    path = GOLDEN / f"{name}.csv"
    if updating_goldens():
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(path)
    golden = pl.read_csv(path, schema=frame.schema)
    assert_frame_equal(frame, golden)


def read_both_ways(reader: ModuleType, content: bytes, name: str, *, fast: str, slow: str, falls_back: type[Exception]):
    """`reader.read(content, name=name)` twice: by its fast path only (its `slow` function removed, so that reaching
    it fails), then by its slow path only (its `fast` function raising `falls_back`, as it does for input it leaves
    to the slow path). Both must read the content, the fast path at least one row, and give the same frame, value
    for value; returns both tables (fast, slow) for further comparison."""
    from polars.testing import assert_frame_equal

    def refuse(*_args):
        raise falls_back

    with pytest.MonkeyPatch.context() as only_fast:
        only_fast.setattr(reader, slow, None)
        by_fast = reader.read(content, name=name)
    with pytest.MonkeyPatch.context() as only_slow:
        only_slow.setattr(reader, fast, refuse)
        by_slow = reader.read(content, name=name)
    assert by_slow.ok and by_fast.ok, by_slow.problems or by_fast.problems
    assert by_fast.frame.height > 0
    assert_frame_equal(by_fast.frame, by_slow.frame, check_exact=True)
    return by_fast, by_slow
