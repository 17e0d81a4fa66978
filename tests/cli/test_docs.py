"""The documentation stays true: its columns, example queries and worked example run as written, the
indicator reference is the catalog's, and the site builds with no broken link."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
import pytest

from conftest import REPO, run_cli
from octracker.extract.extractors import EXTRACTORS
from octracker.load.pipeline import refresh

DOCS = REPO / "docs"


def part(page: str, heading: str) -> str:
    """A page's text under a heading, up to the next heading of the same or a higher level."""
    text = (DOCS / page).read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(heading) :], flags=re.M)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def fenced(text: str, language: str) -> list[str]:
    return [block for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)]


def relations(settings) -> set[str]:
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        return {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal UNION ALL "
                "SELECT table_name FROM duckdb_tables()"
            ).fetchall()
        }
    finally:
        con.close()


def test_the_documented_columns_are_the_warehouses(refreshed):
    rows = re.findall(
        r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", part("analysts.md", "## Columns of the tables and views"), flags=re.M
    )
    documented = {name: columns for name, columns in rows}
    present = relations(refreshed)
    assert {
        "series",
        "observations",
        "latest_values",
        "series_freshness",
        "source_conflicts",
        "yoy_changes",
        "trend_alerts",
    } <= set(documented)
    undocumented = relations(refreshed) - set(documented)
    assert not undocumented, (
        f'{sorted(undocumented)}: add a row with the columns to docs/analysts.md, "Columns of the tables and views"'
    )
    con = duckdb.connect(str(refreshed.published_path), read_only=True)
    try:
        for name, columns in documented.items():
            if name not in present:
                continue  # a view of another workstream, not built in this warehouse
            actual = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
            if columns.startswith("the columns of `observations` and"):
                listed = [c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE observations)").fetchall()]
                listed += re.search(r"and `([^`]+)`", columns).group(1).split(", ")
            else:
                listed = columns.strip("`").split(", ")
            assert listed == actual, name
    finally:
        con.close()


def test_the_example_queries_run(refreshed):
    queries = fenced(part("analysts.md", "## Example queries"), "sql")
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
    example = part("data-engineers.md", "### Worked example: a new article with a new indicator")
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
        assert con.execute(
            "SELECT title, precedence FROM sources WHERE source_id = 'example-gazette-2025-drug-labs'"
        ).fetchall() == [("Police dismantled 41 drug laboratories last year", 30)]
        assert con.execute(
            "SELECT unit, frequency FROM indicators WHERE indicator_id = 'drug_labs_dismantled'"
        ).fetchall() == [("count", "annual")]
        values = con.execute(
            "SELECT geo, year, value, evidence FROM observations WHERE indicator_id = 'drug_labs_dismantled'"
        ).fetchall()
    finally:
        con.close()
    assert values == [("BE", 2024, 41.0, document.strip())]


@pytest.mark.parametrize(
    "command",
    ["refresh", "ingest", "schedule", "sql", "status", "export", "report", "chart", "summary", "alerts", "review"],
)
def test_the_commands_page_has_a_row_for_each_command(command):
    assert re.search(rf"^\| `octracker {command}[ `]", (DOCS / "commands.md").read_text(encoding="utf-8"), flags=re.M)


def test_the_indicator_reference_is_the_catalogs():
    check = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "indicator_reference.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    page = (DOCS / "indicators.md").read_text(encoding="utf-8")
    with (REPO / "schemas" / "indicators.toml").open("rb") as fh:
        catalog = tomllib.load(fh)["indicator"]
    rows = re.findall(r"^\| `([^`]+)` \| (.+?) \| (.+?) \| ", page, flags=re.M)
    assert [(e["id"], e["name"], e["unit"]) for e in catalog] == sorted(
        rows, key=lambda row: [e["id"] for e in catalog].index(row[0])
    )
    assert f"The catalog holds {len(catalog)} indicators." in page


def test_the_indicator_reference_follows_a_changed_catalog(tmp_path):
    spec = importlib.util.spec_from_file_location("indicator_reference", REPO / "scripts" / "indicator_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with (REPO / "schemas" / "indicators.toml").open("rb") as fh:
        catalog = tomllib.load(fh)
    catalog["indicator"].append(
        {
            "id": "estat.crim_off_cat.a.iccs0601.p_hthab",
            "name": "Drug offences | rate",
            "unit": "per 100,000 people",
            "direction": "up_is_bad",
            "frequency": "annual",
            "min": 0,
            "max": 100000.5,
            "aliases": ["drug crime"],
        }
    )
    page = module.render(catalog)
    assert page != (DOCS / "indicators.md").read_text(encoding="utf-8")
    eurostat = page[page.index("## Eurostat") :]
    assert (
        "| `estat.crim_off_cat.a.iccs0601.p_hthab` | Drug offences \\| rate | per 100,000 people | 0 to 100,000.5 "
        "| a rise is bad | annual | Also read as: “drug crime”. |"
    ) in eurostat


@pytest.mark.slow
def test_the_site_builds_with_no_broken_link(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs and its Material theme are not installed: `make test` installs them (the docs extra)")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr
    for page in DOCS.glob("*.md"):
        assert (tmp_path / "site" / page.with_suffix(".html").name).is_file(), page.name
    html = (tmp_path / "site" / "indicators.html").read_text(encoding="utf-8")
    assert "oci.criminality" in html
    # Built to be read offline: no web fonts or scripts fetched from elsewhere.
    assert "fonts.googleapis.com" not in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_the_duckdb_shell_of_the_cli_extra_reads_the_published_copy(refreshed):
    shell = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    if shell is None:
        pytest.skip("the DuckDB shell is not installed: `make test` installs it (the cli extra)")
    opening = part("analysts.md", "## Opening the warehouse")
    (query,) = re.findall(r"^    D (SELECT .+;)$", opening, flags=re.M)
    shown = subprocess.run(
        [shell, "-readonly", "-csv", str(refreshed.published_path), "-c", query],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    con = duckdb.connect(str(refreshed.published_path), read_only=True)
    try:
        expected = con.execute(query).fetchall()
    finally:
        con.close()
    lines = shown.stdout.strip().splitlines()
    assert lines[0] == "indicator_id,geo,year,value,source_id"
    assert len(lines) - 1 == len(expected) > 0


def test_the_engine_names_the_pages_cite_exist():
    pages = {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}
    pages["README.md"] = (REPO / "README.md").read_text(encoding="utf-8")
    cited = {
        (page, name)
        for page, text in pages.items()
        for name in re.findall(r"`(octracker(?:\.[a-z_]+)+)", text)
        # The warehouse file and the files DuckDB keeps beside it (`octracker.duckdb.tmp`) are files, not names.
        if name != "octracker.duckdb" and not name.startswith("octracker.duckdb.")
    }
    assert len(cited) >= 5
    for page, name in sorted(cited):
        parts = name.split(".")
        for depth in range(len(parts), 0, -1):
            try:
                found = importlib.import_module(".".join(parts[:depth]))
                break
            except ModuleNotFoundError:
                continue
        for attribute in parts[depth:]:
            assert hasattr(found, attribute), f"{page} cites `{name}`, which the engine does not have"
            found = getattr(found, attribute)
