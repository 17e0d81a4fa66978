"""What people read in a terminal fits it: at 80, 100 and 120 columns no line is wider, one alert per line,
every cut list says how much it shows and how to see the rest, numbers rounded to what they mean."""

from __future__ import annotations

import collections
import json
import re

import pytest
from click.testing import CliRunner

from conftest import REPO, run_cli
from lakes import cli_options
from octracker.cli import main

WIDTHS = (80, 100, 120)
BRUSSELS = REPO / "tests" / "cases" / "articles" / "brussels_shootings.txt"
SEVERITIES = ("critical", "warning", "info")


def at_width(settings, width: int, *args: str):
    options, env = cli_options(settings)
    result = CliRunner().invoke(main, [*options, *args], env={**env, "COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def wider_than(lines: list[str], width: int) -> list[str]:
    return [line for line in lines if len(line) > width]


@pytest.fixture(scope="module")
def with_candidates(tmp_path_factory):
    """The refreshed project plus one article ingested, so the review queue has candidates."""
    from octracker.load.pipeline import refresh
    from octracker.store.settings import build_settings

    settings = build_settings(
        project=REPO, warehouse=tmp_path_factory.mktemp("widths") / "octracker.duckdb", environ={}
    )
    refresh(settings)
    ingest = run_cli(settings, "ingest", str(BRUSSELS), "--kind", "article")
    assert ingest.exit_code == 0, ingest.output
    return settings, ingest.output


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "command",
    [
        ("alerts",),
        ("alerts", "--long"),
        ("alerts", "--all"),
        ("summary",),
        ("status",),
        ("review",),
        ("review", "--status", "all"),
        ("changes", "--since", "2000-01-01"),
    ],
)
def test_no_line_is_wider_than_the_terminal(with_candidates, width, command):
    lines = at_width(with_candidates[0], width, *command)
    assert len(lines) > 3
    assert wider_than(lines, width) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_alerts_take_one_line_each_with_severity_place_and_indicator(refreshed, width):
    alerts = json.loads(run_cli(refreshed, "alerts", "--format", "json").output)
    lines = at_width(refreshed, width, "alerts")
    rows = [line for line in lines if line.split(" ", 1)[0] in SEVERITIES]
    assert len(rows) == len(alerts) > 20
    for alert, row in zip(alerts, rows):
        severity, geo, indicator = row.split()[:3]
        assert (severity, geo) == (alert["severity"], alert["geo"])
        assert alert["indicator_id"].startswith(indicator.rstrip("…"))
    # What moved, in index points with the printed two decimals, or as a percentage rounded to 0.1.
    assert any("5.00 → 6.00 (+1.00) 2023→2025" in row for row in rows)
    assert any("116 → 44 tonnes (-62.1 %) 2023→2024" in row for row in rows)
    assert "Full messages: octracker alerts --long" in lines[-3:]


@pytest.mark.parametrize("width", WIDTHS)
def test_alerts_long_gives_each_full_statement_in_at_most_three_lines(refreshed, width):
    alerts = json.loads(run_cli(refreshed, "alerts", "--format", "json").output)
    lines = at_width(refreshed, width, "alerts", "--long")
    body = lines[1 : lines.index("")]
    starts = [i for i, line in enumerate(body) if line.split(" ", 1)[0] in SEVERITIES]
    assert len(starts) == len(alerts)
    sizes = [b - a for a, b in zip(starts, [*starts[1:], len(body)])]
    assert max(sizes) <= 3
    text = " ".join(line.strip() for line in body)
    assert "index score rose 1.00 points, from 5.00 in the 2023 edition to 6.00 in the 2025 edition" in text
    # The next step is the rule's, said once per rule after the list rather than under every alert.
    steps = lines[lines.index("Next steps:") + 1 :]
    assert sum(line.startswith("index_move: ") for line in steps) == 1


def test_summary_says_how_much_of_each_cut_list_it_shows_and_rounds_percentages(refreshed):
    lines = at_width(refreshed, 100, "summary")
    text = "\n".join(lines)
    # The lists keep to the places alerts follow (BE, EU, NL): the index workbook moves in every country.
    places = "starts_with(geo, 'BE') OR starts_with(geo, 'EU') OR starts_with(geo, 'NL')"
    counted = run_cli(
        refreshed,
        "sql",
        f"SELECT COUNT(*) AS n FROM edition_changes WHERE change IS NOT NULL AND ({places})",
        "--format",
        "json",
    )
    moves = json.loads(counted.output)[0]["n"]
    shown = lines.index(f"showing 10 of {moves} rows; all of them:")
    # The command may wrap at this width: it breaks between words inside its quotes, so it still pastes whole.
    end = next(n for n in range(shown + 1, len(lines)) if lines[n].startswith("Open trend alerts"))
    pasted = " ".join(" ".join(lines[shown + 1 : end]).split())
    assert pasted == f'octracker sql "SELECT * FROM edition_changes WHERE {places} ORDER BY abs(change) DESC"'
    alerts = len(json.loads(run_cli(refreshed, "alerts", "--format", "json").output))
    shown = lines.index(f"showing 10 of {alerts} rows; all of them:")
    assert lines[shown + 1] == "  octracker alerts"
    # A change in percent is shown to one decimal (-62.1, not -62.0689...); scores keep two; nothing has more.
    largest = run_cli(
        refreshed,
        "sql",
        f"SELECT pct_change FROM yoy_changes WHERE comparable AND ({places}) "
        "ORDER BY abs(pct_change) DESC NULLS LAST LIMIT 10",
        "--format",
        "json",
    )
    for row in json.loads(largest.output):
        assert re.search(rf"(?<![\d.]){row['pct_change']:.1f}(?![\d.])", text), row
    assert not re.search(r"\d\.\d{3,}", text)
    edition_moves = run_cli(
        refreshed,
        "sql",
        f"SELECT prev_value FROM edition_changes WHERE change IS NOT NULL AND ({places}) "
        "ORDER BY abs(change) DESC, indicator_id, geo LIMIT 10",
        "--format",
        "json",
    )
    assert any(re.search(rf"\b{m['prev_value']:.2f}\b", text) for m in json.loads(edition_moves.output))


def test_status_says_how_many_stale_series_it_shows(refreshed, monkeypatch):
    from octracker.cli import status_screen

    monkeypatch.setattr(status_screen, "STALE_SHOWN", 2)
    lines = at_width(refreshed, 80, "status")
    stale = json.loads(run_cli(refreshed, "status", "--json").output)["stale_series"]
    shown = lines.index(f"showing 2 of {len(stale)} stale series; all of them:")
    assert lines[shown + 1] == "  octracker status --json"


def test_an_ingested_article_says_how_many_candidates_await_review(with_candidates):
    settings, output = with_candidates
    pending = json.loads(run_cli(settings, "review", "--format", "json").output)
    assert f"{len(pending)} candidates await review: `octracker review`" in output
    assert "Nothing new" not in output
    lines = at_width(settings, 80, "review")
    # Two lines per candidate (what was read, then its sentence), under its article's heading.
    assert lines[0] == f"Candidates (pending): {len(pending)}"
    assert sum(1 for line in lines if line.startswith("    “")) == len(pending)


@pytest.mark.parametrize("width", WIDTHS)
def test_status_prints_every_pipeline_name_whole(refreshed, width):
    """The name is what `octracker refresh NAME` takes: at 80 columns the counts give way first, and status
    says which columns it left out and where they all are."""
    report = json.loads(run_cli(refreshed, "status", "--json").output)
    names = [p["pipeline"] for p in report["pipelines"]]
    assert "unodc_violent_and_sexual_crime" in names  # the longest bundled name: 30 characters
    lines = at_width(refreshed, width, "status")
    start = lines.index("Pipelines")
    rows = lines[start + 3 : start + 3 + len(names)]
    assert [row.split()[0] for row in rows] == names
    assert wider_than(lines, width) == []
    if width == 80:
        left_out = next(line for line in lines[start:] if line.startswith("not shown at 80 columns: "))
        assert lines[lines.index(left_out) + 1] == "  octracker status --json"
        header = lines[start + 1].split()
        assert {"pipeline", "result", "new"} <= set(header)
        assert not set(left_out.split(": ", 1)[1].split(";")[0].split(", ")) & set(header)


def test_changes_after_a_first_refresh_are_summed_per_source_and_the_list_says_how_to_see_all(refreshed):
    """A first refresh of the bundled project adds tens of thousands of values, most of them publishers' native
    series (cbs.80072ned...): the table counts them per source and lists the first few, the catalog's indicators
    in the places alerts follow first; --all, CSV and JSON list every one."""
    every = json.loads(run_cli(refreshed, "changes", "--since", "2000-01-01", "--format", "json").output)
    # Cells as a person reads them, boxed (wide) or aligned (narrow), whole names kept.
    lines = [
        " ".join(line.replace("│", " ").split())
        for line in at_width(refreshed, 120, "changes", "--since", "2000-01-01")
    ]
    assert len(lines) < 70
    assert lines[0].endswith(f": {len(every)} new, 0 revised, 0 retracted")
    listed = lines.index(next(line for line in lines if line.startswith("First 25 changes")))
    by_source = lines[lines.index("By source") : listed]
    for source, new in collections.Counter(r["source_id"] for r in every).items():
        assert any(line.split()[:2] == [source, str(new)] for line in by_source), source
    first = [line.split()[1] for line in lines[listed:] if line.startswith("new ")]
    assert len(first) == 25
    assert not any(i.startswith(("cbs.", "estat.", "unodc.")) for i in first)
    assert "shootings" in first and "cocaine_seized_tonnes" in first
    shown = lines.index(f"showing 25 of {len(every)} changes; all of them:")
    assert lines[shown + 1] == "add --all (or --format csv, or --format json)"
    # --all lists each change on a line of its own.
    every_line = at_width(refreshed, 100, "changes", "--since", "2000-01-01", "--all")
    assert sum(line.split(" ", 1)[0] == "new" for line in every_line) == len(every)


def test_a_few_changes_are_listed_whole(refreshed):
    every = json.loads(run_cli(refreshed, "changes", "--since", "2000-01-01", "--format", "json").output)
    runs = collections.Counter(r["run_id"] for r in every)
    run_id, n = min(runs.items(), key=lambda item: item[1])
    assert n <= 25  # an article's run: a handful of values
    lines = at_width(refreshed, 80, "changes", "--run", run_id)
    assert "By source" not in lines and not any(line.startswith("showing ") for line in lines)
    assert sum(line.split(" ", 1)[0] == "new" for line in lines) == n


def test_refresh_at_80_columns_prints_every_pipeline_name_whole(tmp_path, monkeypatch):
    from octracker.store.settings import build_settings

    monkeypatch.setenv("OCTRACKER_OFFLINE", "1")
    settings = build_settings(project=REPO, warehouse=tmp_path / "octracker.duckdb", environ={})
    lines = at_width(settings, 80, "refresh")
    names = sorted(p.stem for p in (REPO / "pipelines").glob("*.toml"))
    rows = [line.split() for line in lines[lines.index("Refresh") + 3 :]][: len(names)]
    assert [row[0] for row in rows] == names
    # An unreachable feed is one row; why it was unreachable is the warning under the table.
    assert {row[1] for row in rows} <= {"success", "unreachable", "unchanged"}
    # (Warnings go to stderr whole, for the terminal to wrap: a message pasted into a search stays one line.)
    assert wider_than([line for line in lines if not line.startswith("Warning: ")], 80) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_after_a_refresh_the_command_that_lists_its_changes_stands_whole_on_a_line_of_its_own(tmp_path, width):
    """At 80 columns the hint once wrapped inside `octracker changes --since ...`: pasted, half a command."""
    from octracker.store.settings import build_settings

    settings = build_settings(project=REPO, warehouse=tmp_path / "octracker.duckdb", environ={})
    lines = at_width(settings, width, "refresh", "oci_workbook", "oci_2021_belgium")
    assert wider_than(lines, width) == []
    at = next(n for n, line in enumerate(lines) if line.startswith("Changed values: "))
    assert lines[at].endswith("; to list them:")
    command = lines[at + 1].split()
    assert lines[at + 1] == "  " + " ".join(command) and command[:3] == ["octracker", "changes", "--since"]
    # Pasted as printed, it lists exactly the values the refresh counted.
    listed = json.loads(run_cli(settings, *command[1:], "--format", "json").output)
    assert len(listed) == int(lines[at].split()[2]) > 0
