"""The report's "Changed since the last report": the values new, revised or retracted since the report before."""

from __future__ import annotations

import html
from pathlib import Path

from conftest import run_cli
from octracker.load.pipeline import refresh

CSV = "indicator,geo,period,value,unit,qualifier,as_of,source_url,note\n"


def drop(settings, rows: str) -> None:
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.inbox_dir / "police.csv").write_text(CSV + rows)
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error


def changed_part(page: str) -> str:
    start = page.index("<h3>Changed since the last report</h3>")
    return html.unescape(page[start : page.index("<h3>", start + 10)])


def report(settings, out: Path) -> str:
    result = run_cli(settings, "report", "--out", str(out))
    assert result.exit_code == 0, result.output
    return (out / "index.html").read_text(encoding="utf-8")


def test_the_second_report_lists_what_changed_since_the_first(scratch_project, tmp_path):
    settings = scratch_project
    refresh(settings, ["article_judge_letter"])
    drop(settings, "shootings,BE-BRU,2023,61,count,exact,,,\n")
    first = report(settings, tmp_path / "report")
    assert "No earlier report in this folder to compare with." in changed_part(first)

    drop(settings, "shootings,BE-BRU,2023,64,count,exact,,,\nshootings,BE-BRU,2024,92,count,exact,,,\n")
    second = changed_part(report(settings, tmp_path / "report"))
    assert "1 new, 1 revised, 0 retracted since " in second
    assert "<td>revised</td>" not in second  # the kind is a tag, the values are cells
    assert '>revised</span></td><td><a href="#ind-shootings">Shootings</a><br><span class=note>BE-BRU' in second
    assert "BE-BRU Brussels-Capital Region, 2023</span></td><td>61</td><td>64</td><td>police</td>" in second
    assert "2024</span></td><td></td><td>92</td>" in second

    # Nothing changed since: the third report says so.
    assert "No value changed." in changed_part(report(settings, tmp_path / "report"))
    # A report written elsewhere has no earlier one to compare with.
    assert "No earlier report in this folder" in changed_part(report(settings, tmp_path / "elsewhere"))
