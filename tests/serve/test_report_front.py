"""The report as the analyst's front page: BE and NL at a glance, the biggest movers, the alerts one line each,
each value's evidence in words, index charts on one 1-10 axis, and a page that fits a laptop screen.

The browser checks run Debian's headless Chromium on the written file (as tests/serve/test_report_browser.py
does) and keep their screenshots in the test's folder.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from conftest import copy_project, query, run_cli
from octracker.content.catalog import load_catalog
from octracker.load.pipeline import refresh
from octracker.serve.charts import build_chart, read_points
from octracker.store.query import locked_reader
from publisher_cases import SICK_LEAVE

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed (apt-get install chromium)")
#: A whole-world index table, cut to five countries: enough for world and EU ranks.
WIDE_TABLE = (
    "Country,Criminality,Resilience\n"
    "Belgium,4.82,7.17\nNetherlands,5.17,7.42\nFrance,5.50,6.80\nGermany,5.00,7.00\nUnited States,5.67,6.54\n"
)
RED, GREEN = (0x9B, 0x1C, 0x1C), (0x1C, 0x6B, 0x3A)


def text_of(page: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def report_with(
    folder: Path,
    name: str | None = None,
    text: str = "",
    *ingest: str,
    catalog: str = "",
    without: tuple[str, ...] = (),
):
    """The project (its catalog extended by `catalog`, the pipelines matching `without` removed) refreshed, plus
    one table written as `name` and ingested, and the report it then gets."""
    settings = copy_project(folder)
    for pattern in without:
        for spec in settings.pipelines_dir.glob(pattern):
            spec.unlink()
    indicators = settings.schemas_dir / "indicators.toml"
    indicators.write_text(indicators.read_text(encoding="utf-8") + catalog, encoding="utf-8")
    refresh(settings)
    if name is not None:
        table = settings.project / name
        table.write_text(text, encoding="utf-8")
        ingested = run_cli(settings, "ingest", str(table), *ingest)
        assert ingested.exit_code == 0, ingested.output
    result = run_cli(settings, "report")
    assert result.exit_code == 0, result.output
    page = settings.data_dir / "report" / "index.html"
    return settings, page, page.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    """The project with a whole-world index table of 2025, and its report."""
    return report_with(
        tmp_path_factory.mktemp("ranked"), "index2025.csv", WIDE_TABLE, "--kind", "oci_wide", "--edition", "2025"
    )


@pytest.fixture(scope="module")
def with_official(tmp_path_factory):
    """The project with its catalog following CBS's sick leave table too (a provisional last quarter), and its
    report."""
    return report_with(tmp_path_factory.mktemp("official"), catalog=SICK_LEAVE)


def official_and_press(page: str) -> tuple[str, str]:
    assert page.count("<h2>Official statistics beside the press figures</h2>") == 1
    pair = page.split("<h2>Official statistics beside the press figures</h2>")[1]
    official, press = pair.split("<h3>Figures from articles</h3>")
    return official, press


def test_official_statistics_stand_in_a_column_beside_the_press_figures(ranked):
    settings, _, page = ranked
    official, press = official_and_press(page)
    # Kidnapping is read from UNODC's export only (its bundled snapshot); cocaine seizures and shootings from articles.
    assert 'id="ind-kidnapping_per_100k"' in official and 'id="ind-cocaine_seized_tonnes"' not in official
    assert 'id="ind-cocaine_seized_tonnes"' in press and 'id="ind-shootings"' in press
    assert 'id="ind-kidnapping_per_100k"' not in press
    ((latest, previous),) = query(
        settings,
        "SELECT value, prev_value FROM yoy_changes WHERE indicator_id = 'kidnapping_per_100k' AND geo = 'NL' "
        "ORDER BY year DESC LIMIT 1",
    )
    change = re.escape(f"{(latest - previous) / previous * 100:.1f} %")
    assert re.search(rf"NL The Netherlands 2021 .{{0,60}} per 100,000 people, \+?{change} on 2020", text_of(official))
    # The index stays in its own part, before the pair.
    assert 'id="ind-oci-criminality"' in page.split("<h2>Official statistics beside")[0]


def test_a_provisional_official_value_is_said_to_be_provisional(with_official):
    settings, _, page = with_official
    official, _ = official_and_press(page)
    sick_leave = official[official.index('id="ind-sick_leave_rate"') :].split('<section class="indicator"')[0]
    table = text_of(sick_leave[sick_leave.index("<table") :])
    ((end, value, flags),) = query(
        settings,
        "SELECT period_end::VARCHAR, value, flags FROM series WHERE indicator_id = 'sick_leave_rate' AND geo = 'NL' "
        "ORDER BY period_end DESC LIMIT 1",
    )
    assert (end, flags) == ("2020-03-31", "p")  # CBS's Voorlopig
    assert f"NL The Netherlands 2020-01-01 – {end} {value:g} percent {value:g} percent provisional" in table


def test_without_official_statistics_the_press_figures_stand_alone(tmp_path):
    _, _, page = report_with(tmp_path, without=("estat_*.toml", "cbs_*.toml", "unodc_*.toml"))
    assert "Official statistics beside the press figures" not in page
    assert 'id="ind-cocaine_seized_tonnes"' in page


def test_the_headline_panel_gives_each_pillar_its_edition_change_and_ranks(ranked):
    settings, _, page = ranked
    front = text_of(page.split('<section class="indicator"')[0])
    # BE criminality 2025 = 4.82 (mean of its components); 2023 = 4.43 as the index computes it.
    assert "BE Belgium · Criminality 4.82 / 10, 2025 edition" in front
    assert "▲ +0.39 since 2023 (4.43)" in front
    assert "NL The Netherlands · Resilience 7.42 / 10, 2025 edition" in front and "▼ -0.04 since 2023 (7.46)" in front
    (rank,) = query(
        settings,
        "SELECT rank, n_geos, eu_rank FROM index_ranks WHERE geo = 'BE' AND indicator_id = 'oci.criminality' "
        "AND year = 2025",
    )
    assert f"world rank {rank[0]} of {rank[1]}; EU rank {rank[2]}" in front
    # A rise in criminality is bad (red), a rise in resilience good (green).
    cards = re.findall(r'<div class="card">.*?</div>\s*(?:<p[^>]*>.*?</p>)*', page)
    assert any("Criminality" in c and 'class="up"' in c for c in cards)
    assert any("Resilience" in c and "▲" in c and 'class="down"' in c for c in cards)


def test_without_the_whole_index_the_panel_says_how_to_see_ranks(figures_report):
    path, _ = figures_report
    front = text_of(path.read_text(encoding="utf-8").split('<section class="indicator"')[0])
    assert "world and EU ranks: load the whole index (the workbook) to see them" in front


def test_the_front_page_lists_the_biggest_movers_and_every_alert_in_one_line(ranked):
    settings, _, page = ranked
    front = page.split('<section class="indicator"')[0]
    text = text_of(front)
    assert "Biggest movers" in text
    assert "Cocaine seized BEANR Port of Antwerp 2023 → 2024 116 → 44 tonnes -62.1 %" in text
    assert re.search(r"showing 8 of \d+ changes in the places followed; every change of every place:", text)
    alerts = query(settings, "SELECT COUNT(*) FROM trend_alerts")[0][0]
    rows = re.findall(r'<tr><td><span class="tag alert">', front)
    assert len(rows) == alerts
    # What moved in a few words; the full message folds out (no script: <details>).
    assert "5.00 → 6.00 (+1.00) 2023→2025" in text
    assert front.count("<details>") == alerts


def test_each_latest_value_reads_in_words_beside_its_printed_line(ranked):
    _, _, page = ranked
    section = page.split('id="ind-oci-arms_trafficking"')[1].split("</section>")[0]
    text = text_of(section)
    assert "score 6.50, +0.50 since 2023" in text
    assert "Arms trafficking / 6.500.50 (line 143)" in text


def test_index_charts_share_one_1_to_10_axis_and_draw_unprinted_values_apart(ranked):
    settings, _, _ = ranked
    catalog = load_catalog(settings.schemas_dir / "indicators.toml")
    with locked_reader(settings.read_target) as con:
        markets = build_chart(catalog["oci.criminal_markets"], read_points(con, "oci.criminal_markets"))
        seized = build_chart(catalog["cocaine_seized_tonnes"], read_points(con, "cocaine_seized_tonnes"))

    def y_scales(spec) -> list[dict]:
        found = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("field") == "value" and "scale" in node:
                    found.append(node["scale"])
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(spec)
        return found

    assert all(s.get("domain") == [1, 10] for s in y_scales(markets)) and y_scales(markets)
    assert not any("domain" in s for s in y_scales(seized))
    kinds = {(r["geo"], round(r["x"]), r["marking"]) for r in markets["datasets"]["points"]}
    # 2025 is printed; 2023 is derived from the printed change: a hollow diamond, not a filled dot.
    assert ("BE", 2025, "exact") in kinds and ("BE", 2023, "derived or computed (not printed)") in kinds


def run_browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


@needs_browser
@pytest.mark.parametrize("width, height", [(1366, 768), (1280, 800), (1024, 768)])
def test_the_headline_is_on_the_first_screen_of_a_laptop(ranked, tmp_path, width, height):
    _, page, _ = ranked
    shot = tmp_path / f"front-{width}x{height}.png"
    result = run_browser(page, tmp_path / "profile", f"--window-size={width},{height}", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    with Image.open(shot) as image:
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 24)}
    # The cards' red and green arrows and changes are painted above the fold.
    assert RED in colours and GREEN in colours


@needs_browser
@pytest.mark.parametrize("width", [1366, 1024, 800])
@pytest.mark.parametrize("report", ["ranked", "with_official"])
def test_nothing_is_wider_than_a_laptop_window(report, request, tmp_path, width):
    # A measuring copy: the report itself runs no script (its policy forbids it), this copy reports the
    # page's width into the DOM that Chromium prints.
    _, page, source = request.getfixturevalue(report)
    probe = tmp_path / "probe.html"
    probe.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", source).replace(
            "</body>",
            "<script>document.body.setAttribute('data-overflow', "
            "document.documentElement.scrollWidth - window.innerWidth)</script></body>",
        ),
        encoding="utf-8",
    )
    result = run_browser(probe, tmp_path / "profile", f"--window-size={width},900", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    overflow = int(re.search(r'data-overflow="(-?\d+)"', result.stdout).group(1))
    assert overflow <= 0
