"""The HTML report in a real headless browser (Debian's Chromium): it loads offline, logs nothing, draws its charts.

Chromium runs with no network features and opens the file from disk (file://). Console messages (script
errors, and the Content-Security-Policy's refusals of anything the page would fetch) are read from its log.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from conftest import query
from octracker.serve.charts import PALETTE

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BROWSER is None,
        reason="Chromium is not installed, so the report was not checked in a "
        "browser (Debian: apt-get install chromium; .ci/run installs it)",
    ),
]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--hide-scrollbars",
)


def run_browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )


def console_messages(log: str) -> list[str]:
    """What the page wrote to the console, and scripts' uncaught errors, from Chromium's log."""
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_the_console_check_sees_script_errors_and_blocked_fetches(tmp_path, figures_report):
    # The check below must be able to fail: a page with an error and a copy of the report that tries to
    # load an image from the network both show up in the console log.
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>throw new Error('boom')</script></body></html>", encoding="utf-8"
    )
    assert any(
        "Uncaught Error: boom" in m for m in console_messages(run_browser(broken, tmp_path / "p1", "--dump-dom").stderr)
    )
    path, _ = figures_report
    fetching = tmp_path / "fetching.html"
    fetching.write_text(
        path.read_text(encoding="utf-8").replace("</body>", '<img src="https://cdn.example.org/x.png" alt=""></body>'),
        encoding="utf-8",
    )
    messages = console_messages(run_browser(fetching, tmp_path / "p2", "--dump-dom").stderr)
    assert any("cdn.example.org" in m and "Content Security Policy" in m for m in messages)


def test_the_report_loads_with_no_console_message_and_every_chart_in_the_page(tmp_path, figures_report):
    path, _ = figures_report
    result = run_browser(path, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    dom = result.stdout
    assert "<h1>Organized-crime indicators</h1>" in dom and "Sources that disagree" in dom
    assert dom.count("<svg") == 43
    assert dom.count('role="graphics-symbol"') > 43 * 3  # every chart has its points


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_the_charts_are_painted(tmp_path, figures_report, uncurated):
    path, _ = figures_report
    places = [
        g
        for (g,) in query(
            uncurated,
            # The charted series' places (a publisher's native series is charted once the catalog maps it), among
            # the places followed (the index workbook scores every country).
            "SELECT DISTINCT geo FROM observations WHERE period_start IS NOT NULL "
            "AND regexp_matches(indicator_id, '^(estat|cbs|unodc)[.]') = false "
            "AND EXISTS (SELECT 1 FROM alert_places AS p WHERE starts_with(geo, p.place)) ORDER BY geo",
        )
    ]
    be, nl = (rgb(PALETTE[places.index(g)]) for g in ("BE", "NL"))
    shot = tmp_path / "report.png"
    result = run_browser(path, tmp_path / "profile", "--window-size=1200,9000", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    with Image.open(shot) as image:
        counts = {colour: n for n, colour in image.convert("RGB").getcolors(maxcolors=1 << 24)}
    # The first charts of the index (BE and NL lines and dots) are within the first 9000 pixels, after the
    # alerts and conflicts; nothing else on the page uses the places' colours.
    assert counts.get(be, 0) > 200 and counts.get(nl, 0) > 200, {c: n for c, n in counts.items() if n > 500}
