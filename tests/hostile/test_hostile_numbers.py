"""Statistics publishers' files with numbers a float cannot hold: refused whole, never read as 0 or infinity.

What must hold: a JSON-stat body, an SDMX-CSV file or a CBS table whose value is `1E-400` (which a float reads as
0) or `1E400` (infinity) is refused by `octracker ingest` with exit 2, naming the file and the value, and
nothing from it is loaded, as for a long table.
"""

from __future__ import annotations

import pytest
from hostile_fixtures import baseline, cli, loaded  # noqa: F401

from octracker.extract.publishers.cbs_odata import bundle_answers
from published import read_rows
from publisher_cases import CBS_80072NED, EUROSTAT, cbs_answers

SDG = (EUROSTAT / "sdg_04_20.csv").read_text(encoding="utf-8")
UNE = (EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json").read_text(encoding="utf-8")


def cbs_with(value: str) -> bytes:
    answers = cbs_answers(CBS_80072NED)
    first = answers["Observations"][0]
    answers["Observations"][0] = first.replace(b'"Value":5.5', b'"Value":' + value.encode(), 1)
    assert answers["Observations"][0] != first
    return bundle_answers(answers)


def one(text: str, old: str, new: str) -> bytes:
    assert old in text
    return text.replace(old, new, 1).encode()


CASES = [
    ("sdg.csv", one(SDG, ",2008,20.0,", ",2008,1E-400,"), "'1E-400' is too small"),
    ("sdg.csv", one(SDG, ",2008,20.0,", ",2008,-1e-999,"), "'-1e-999' is too small"),
    ("une.json", one(UNE, '"0": 3.2', '"0": 1e-400'), "'1e-400' is too small"),
    ("une.json", one(UNE, '"0": 3.2', '"0": 1E400'), "'1E400' is too large"),
    ("une.json", one(UNE, '"0": 3.2', '"0": "1e-999"'), "'1e-999' is too small"),
    ("cbs.zip", None, "'1e-400' is too small"),
]


@pytest.mark.parametrize(("name", "content", "says"), CASES, ids=[c[2].split("'")[1] + "-" + c[0] for c in CASES])
def test_a_publishers_number_a_float_cannot_hold_refuses_the_file(loaded, tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content if content is not None else cbs_with("1e-400"))
    # An id of its own: the bundled pipelines follow some of these datasets.
    path.with_name(name + ".meta.toml").write_text('source_id = "numbers-test"\n', encoding="utf-8")
    result = cli(loaded, "ingest", str(path))
    assert result.exit_code == 2, result.output
    assert name in result.stderr and says in result.stderr, result.stderr
    assert "it would read as 0" in result.stderr or "too large" in result.stderr
    assert read_rows(loaded.published_path, "SELECT COUNT(*) FROM sources WHERE source_id = 'numbers-test'") == [(0,)]


def test_zero_written_any_way_is_still_zero(loaded, tmp_path):
    path = tmp_path / "sdg.csv"
    path.write_bytes(one(SDG, ",2008,20.0,", ",2008,0.0E-400,"))
    path.with_name("sdg.csv.meta.toml").write_text('source_id = "numbers-test"\n', encoding="utf-8")
    result = cli(loaded, "ingest", str(path))
    assert result.exit_code == 0, result.output
    assert read_rows(
        loaded.published_path,
        "SELECT value FROM observations WHERE source_id = 'numbers-test' AND geo = 'AT' AND year = 2008 "
        "AND indicator_id LIKE '%females%'",
    ) == [(0.0,)]
