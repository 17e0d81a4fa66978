"""The README stays a page that routes each reader: short, its tour's commands run, its links lead somewhere."""

from __future__ import annotations

import re
import shlex

from conftest import REPO, run_cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def tour_commands() -> list[str]:
    """Every `octracker ...` line of the README's shell blocks."""
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("octracker ")]


def test_the_readme_fits_on_a_page():
    assert len(README.splitlines()) <= 250
    for heading in ("## Two commands", "## A five-minute tour", "## Layout", "## Documentation"):
        assert heading + "\n" in README
    assert "    make run" in README and "    make test" in README


def test_the_tour_commands_run(scratch_project, tmp_path, monkeypatch):
    commands = tour_commands()
    # The analyst's, the operator's and the data engineer's: each reader has something to type.
    assert len(commands) >= 9
    assert {"alerts", "sql", "report", "export", "status", "refresh"} <= {shlex.split(c)[1] for c in commands}
    monkeypatch.chdir(tmp_path)  # report/ and exports/ are written where the reader stands
    assert run_cli(scratch_project, "--quiet", "refresh").exit_code == 0
    for command in commands:
        result = run_cli(scratch_project, *shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
        assert result.output.strip(), command
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "exports" / "series.csv").is_file()


def test_the_readme_links_lead_to_pages_that_exist():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not re.match(r"\w+://", link)]
    assert len(local) >= 8
    for link in local:
        assert (REPO / link).is_file(), f"README links to {link}, which does not exist"
    # Every page of the documentation is reachable from the README.
    assert {p.name for p in (REPO / "docs").glob("*.md")} <= {link.rsplit("/", 1)[-1] for link in local} | {"index.md"}


def test_the_layout_table_is_the_engines_tree():
    from test_layers import LAYERS  # the rule the import test enforces

    layout = README[README.index("## Layout\n") : README.index("## Documentation\n")]
    packages = re.findall(r"^\| `src/octracker/(\w+)/` \|", layout, flags=re.M)
    engine = REPO / "src" / "octracker"
    present = sorted(p.parent.name for p in engine.glob("*/__init__.py"))
    assert sorted(packages) == present, "the README's layout table names other packages than src/octracker/ holds"
    # Listed top down: a package never sits below one it may import from.
    assert [LAYERS[p] for p in packages] == sorted((LAYERS[p] for p in packages), reverse=True)
    (shared,) = re.findall(r"^\| `src/octracker/\*\.py` \| (.+) \|$", layout, flags=re.M)
    modules = {p.stem for p in engine.glob("*.py")} - {"__init__", "__main__"}
    assert set(re.findall(r"`(\w+)`", shared)) == modules
    for path in re.findall(r"^\| `((?:pipelines|schemas|warehouse|tests|docs|benchmarks)/[^`*]*)`", layout, flags=re.M):
        assert (REPO / path).exists(), path
