"""The README stays true: its view columns, its example queries and its worked example run as written."""

from __future__ import annotations

import re

import duckdb
import pytest

from conftest import REPO, run_cli
from octracker.extractors import EXTRACTORS
from octracker.pipeline import refresh

README = (REPO / "README.md").read_text(encoding="utf-8")


def part(heading: str) -> str:
    """The README's text under a heading, up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = README.index(heading + "\n")
    following = re.search(rf"^#{{1,{len(level)}}} ", README[start + len(heading):], flags=re.M)
    return README[start: start + len(heading) + following.start()] if following else README[start:]


def fenced(text: str, language: str) -> list[str]:
    return [block for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)]


def relations(settings) -> set[str]:
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal UNION ALL "
                                          "SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()


def test_the_documented_columns_are_the_warehouses(refreshed):
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", part("### Columns of the tables and views"), flags=re.M)
    documented = {name: columns for name, columns in rows}
    present = relations(refreshed)
    assert {"series", "observations", "latest_values", "series_freshness", "source_conflicts", "yoy_changes",
            "trend_alerts"} <= set(documented)
    con = duckdb.connect(str(refreshed.published_path), read_only=True)
    try:
        for name, columns in documented.items():
            if name not in present:
                continue  # a view of another workstream, not built in this warehouse
            actual = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
            if columns.startswith("the columns of `observations` and"):
                listed = [c for c, in con.execute("SELECT column_name FROM (DESCRIBE observations)").fetchall()]
                listed += re.search(r"and `([^`]+)`", columns).group(1).split(", ")
            else:
                listed = columns.strip("`").split(", ")
            assert listed == actual, name
    finally:
        con.close()


def test_the_example_queries_run(refreshed):
    queries = fenced(part("### Example queries"), "sql")
    assert len(queries) >= 6
    present = relations(refreshed)
    ran = 0
    for sql in queries:
        used = set(re.findall(r"(?:FROM|JOIN)\s+(\w+)", sql))
        if not used <= present | {"yearly"}:
            continue
        result = run_cli(refreshed, "sql", sql, "--format", "json")
        assert result.exit_code == 0, f"{sql}\n{result.output}"
        ran += 1
    assert ran == len(queries)  # every view they use is in this warehouse


def test_the_worked_example_adds_a_source_and_an_indicator(scratch_project):
    settings = scratch_project
    example = part("### Worked example: a new article with a new indicator")
    indicator, sidecar, spec = fenced(example, "toml")
    (document,) = fenced(example, "text")[:1]
    with open(settings.schemas_dir / "indicators.toml", "a", encoding="utf-8") as fh:
        fh.write("\n" + indicator)
    documents = settings.pipelines_dir / "documents"
    (documents / "example_gazette_labs.txt").write_text(document, encoding="utf-8")
    (documents / "example_gazette_labs.txt.meta.toml").write_text(sidecar, encoding="utf-8")
    assert "article_figures" in EXTRACTORS
    (settings.pipelines_dir / "article_example_gazette_labs.toml").write_text(spec, encoding="utf-8")
    (result,) = refresh(settings, ["article_example_gazette_labs"])
    assert result.status == "success", result.error
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        assert con.execute("SELECT title, precedence FROM sources WHERE source_id = 'example-gazette-2025-drug-labs'"
                           ).fetchall() == [("Police dismantled 41 drug laboratories last year", 30)]
        assert con.execute("SELECT unit, frequency FROM indicators WHERE indicator_id = 'drug_labs_dismantled'"
                           ).fetchall() == [("count", "annual")]
        values = con.execute("SELECT geo, year, value, evidence FROM observations "
                             "WHERE indicator_id = 'drug_labs_dismantled'").fetchall()
    finally:
        con.close()
    assert values == [("BE", 2024, 41.0, document.strip())]


@pytest.mark.parametrize("command", ["refresh", "summary", "sql", "status", "export", "report", "chart"])
def test_the_commands_table_names_each_command(command):
    assert re.search(rf"^\| `octracker {command}[ `]", part("## Commands"), flags=re.M)
