"""`octracker report` and `octracker chart`: offline HTML with evidence, honest markings, escaped document text."""

from __future__ import annotations

import html
import json
import re

import pytest
from PIL import Image

from analyst_fixtures import NARCO, S_SEIZED_2023, S_VISIT, figure, load_rows, year
from conftest import query, run_cli
from octracker.load.pipeline import refresh

SIDECAR = f"documents/{NARCO}.meta.toml"


@pytest.fixture
def report_html(figures_report):
    path, printed = figures_report
    assert f"Wrote {path} (43 charts, 43 indicators, 1 conflicts)" in printed
    return path.read_text(encoding="utf-8")


def section(page: str, indicator_id: str) -> str:
    start = page.index(f'id="ind-{indicator_id.replace(".", "-")}"')
    return page[start : page.index("</section>", start)]


def test_the_report_is_one_self_contained_file_that_loads_nothing(report_html, uncurated):
    assert "<script" not in report_html.lower() and "<link" not in report_html.lower()
    assert not re.search(r"\ssrc=", report_html)
    assert "Content-Security-Policy" in report_html and "default-src 'none'" in report_html
    hrefs = re.findall(r'href="([^"]*)"', report_html)
    assert all(h.startswith("#") or h.startswith("https://") for h in hrefs)
    # Links only to the sources the values were read from (the index's site, UNODC's export).
    sources = {url for (url,) in query(uncurated, "SELECT url FROM sources WHERE url IS NOT NULL")}
    links = {h for h in hrefs if not h.startswith("#")}
    assert "https://ocindex.net/" in links and links <= sources


def test_overview_lists_open_alerts_most_severe_first(report_html, uncurated):
    overview = report_html[report_html.index('id="overview"') : report_html.index("<h3>Sources that disagree</h3>")]
    ((n,),) = query(uncurated, "SELECT COUNT(*) FROM trend_alerts")
    assert f"<p>{n} open alert(s), most severe first; click one for its full message.</p>" in overview
    severities = re.findall(r'<span class="tag alert">(\w+)</span>', overview)
    assert len(severities) == n
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    # Each alert: its place, a link to its indicator's section, what moved, and its own message folded out.
    assert '<td>BEANR Port of Antwerp</td><td><a href="#ind-cocaine_seized_tonnes">Cocaine seized</a></td>' in overview
    assert "<summary>121 → 44 tonnes (-63.6 %) 2023→2024</summary>" in overview
    assert "Cocaine seized (BEANR): 44 tonnes in 2024 against 121 tonnes in 2023" in overview


def test_overview_lists_sources_that_disagree_side_by_side(report_html):
    overview = report_html[report_html.index('id="overview"') : report_html.index("<nav>")]
    assert "Cocaine seized</a>, BEANR Port of Antwerp, 2023</strong>: 2 sources state different values" in overview
    boxes = overview[overview.index('<div class="side">') :]
    assert boxes.index("121 tonnes") < boxes.index("116 tonnes")  # the one the series uses first
    assert "used in series" in boxes.split("116 tonnes")[0]
    assert html.escape(S_VISIT) in boxes and html.escape(S_SEIZED_2023) in boxes
    assert "Belgium Welcomes U.S. Assistance in Fighting Drug Violence" in boxes


def test_every_indicator_with_values_has_a_chart_and_its_latest_value_with_evidence(report_html):
    sections = re.findall(r'<section class="indicator" id="ind-([^"]+)">', report_html)
    assert len(sections) == 43
    assert report_html.count("<svg") == 43
    cocaine = section(report_html, "oci.cocaine_trade")
    assert "<svg" in cocaine
    assert "<td>NL The Netherlands</td><td>2025</td><td class=num>8.00 score</td>" in cocaine
    assert "<blockquote>Cocaine trade / 8.000.50 (line 35)</blockquote>" in cocaine
    assert "Global Organized Crime Index 2025: country profiles of the Netherlands and Belgium" in cocaine


def test_partial_bounded_and_approximate_values_are_marked_in_chart_and_table(report_html):
    shootings = section(report_html, "shootings")
    # The latest value is the 2025 figure "so far" with a known as-of date (as yoy_changes and the alerts
    # take it), not the lower bound whose source gives no date; both are charted.
    assert "<td>2025 so far (to 10 September 2025)</td><td class=num>≈ 60 count</td>" in shootings
    assert '<span class="tag warn">approximate</span><span class="tag warn">partial period</span>' in shootings
    assert f"<blockquote>{html.escape(S_VISIT)}</blockquote>" in shootings
    assert "60, -5.9 % on 2024 at its pace so far" in shootings
    chart = shootings[shootings.index("<svg") : shootings.index("</svg>")]
    assert ">so far (to 10 Sep)</text>" in chart and ">so far</text>" in chart
    assert ">at least (lower bound)</text>" in chart and ">partial period (so far)</text>" in chart
    hollow = re.findall(r'aria-label="BE-BRU Brussels-Capital Region, 2025[^"]*"[^>]*fill-opacity="0"', chart)
    assert len(hollow) == 2
    filled = re.findall(r'aria-label="BE-BRU[^"]*2024: 92 count, exact[^"]*"[^>]*fill-opacity="1"', chart)
    assert len(filled) == 1
    seized = section(report_html, "cocaine_seized_tonnes")
    assert re.search(
        r'aria-label="BEANR Port of Antwerp, 2021: 90 tonnes, approximate[^"]*"[^>]*fill-opacity="0"', seized
    )
    assert "(not the value the series uses)" in seized  # 116 t drawn beside 121 t
    assert "<h4>Sources disagree</h4>" in seized


def test_values_without_a_period_are_listed_not_charted(report_html):
    homicide = section(report_html, "homicide_rate_per_100k")
    assert "3 value(s) without a stated period are kept but not charted" in homicide
    assert "US United States of America: 6.8 per 100,000 people" in homicide


def test_text_from_documents_and_sidecars_is_escaped_and_bad_links_dropped(articles_only):
    settings = articles_only
    sidecar = settings.pipelines_dir / SIDECAR
    text = sidecar.read_text(encoding="utf-8")
    text = re.sub(r"^title = .*$", 'title = "<script>alert(\\"title\\")</script> & \\"quoted\\""', text, flags=re.M)
    sidecar.write_text(text + 'url = "javascript:alert(1)"\n', encoding="utf-8")
    refresh(settings)
    load_rows(
        settings,
        NARCO,
        "article_narco_paradox",
        [
            figure("shootings", "BE-BRU", year(2026), 80, "count", "<img src=x onerror=alert(1)> 80 shootings </td>"),
        ],
    )
    result = run_cli(settings, "report", "--out", str(settings.project / "out"))
    assert result.exit_code == 0, result.output
    page = (settings.project / "out" / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<img" not in page and "javascript:" not in page
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; &amp; &quot;quoted&quot;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; 80 shootings &lt;/td&gt;" in page


def test_a_warehouse_without_alert_views_gets_a_report_that_says_so(without_alert_views, tmp_path):
    refresh(without_alert_views)
    result = run_cli(without_alert_views, "report", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Trend alerts are not computed in this warehouse (it has no trend_alerts view)." in page
    assert page.count("<svg") == 43


def test_report_needs_a_published_warehouse_with_current_views(settings, scratch_project):
    result = run_cli(settings, "report")
    assert result.exit_code == 1 and "run `octracker refresh` first" in result.output
    (scratch_project.views_dir / "70_latest_values.sql").unlink()
    refresh(scratch_project)
    stale = run_cli(scratch_project, "report")
    assert stale.exit_code == 1
    assert "has no latest_values view; run `octracker refresh` to rebuild the views" in stale.output


def test_report_json_and_quiet(articles_only, tmp_path):
    refresh(articles_only)
    result = run_cli(articles_only, "report", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0
    ((alerts,),) = query(articles_only, "SELECT COUNT(*) FROM trend_alerts")
    assert json.loads(result.output) == {
        "path": str(tmp_path / "index.html"),
        "indicators": 7,
        "charts": 7,
        "conflicts": 0,
        "open_alerts": alerts,
    }
    quiet = run_cli(articles_only, "-q", "report", "--out", str(tmp_path))
    assert quiet.exit_code == 0 and quiet.output == ""


def test_chart_writes_svg_with_the_markings_used(refreshed, tmp_path):
    out = tmp_path / "seized.svg"
    result = run_cli(refreshed, "chart", "cocaine_seized_tonnes", "--out", str(out))
    assert result.exit_code == 0 and f"Wrote {out}" in result.output
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and ">Cocaine seized (tonnes)</text>" in svg
    for label in ("2021", "2022", "2023", "2024", "exact", "approximate"):
        assert f">{label}</text>" in svg
    assert ">at least (lower bound)</text>" not in svg  # the legend shows only what the chart uses
    assert "BEANR Port of Antwerp" in svg and "BEANR+BEZEE Port of Antwerp-Bruges" in svg  # 121 t, curated


def test_chart_by_name_for_one_place_as_png(refreshed, tmp_path):
    out = tmp_path / "cocaine.png"
    result = run_cli(refreshed, "chart", "Cocaine trade", "--geo", "NL", "--out", str(out))
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 1000 and image.height > 400
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert (0x4C, 0x78, 0xA8) in colours
    svg_out = tmp_path / "nl.svg"
    run_cli(refreshed, "chart", "oci.cocaine_trade", "--geo", "NL", "--out", str(svg_out))
    svg = svg_out.read_text(encoding="utf-8")
    assert "NL The Netherlands" in svg and "BE Belgium" not in svg


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["cocaine", "--out", "x.svg"],
            "unknown indicator 'cocaine'; did you mean 'oci.cocaine_trade' or 'cocaine_seized_tonnes'?",
        ),
        (["oci.cocaine_trade", "--out", "x.pdf"], "x.pdf: --out must end in .svg or .png"),
        (
            ["cocaine_seized_tonnes", "--geo", "FR", "--out", "x.svg"],
            "no values of cocaine_seized_tonnes for FR with a stated period in the published warehouse; "
            "places with values: "
            "BEANR, BEANR+BEZEE",
        ),
    ],
)
def test_chart_usage_errors_exit_2(refreshed, tmp_path, args, message):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    result = run_cli(refreshed, "chart", *args)
    assert result.exit_code == 2
    assert message.replace("x.pdf", str(tmp_path / "x.pdf")) in result.output
