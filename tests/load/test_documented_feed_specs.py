"""The data engineers page's specs for following one more Eurostat dataset or CBS table work as written: each is
copied from the page, its address pointed at a publisher on 127.0.0.1 serving recorded answers, and refreshed;
then the page's query lists the new series, and a catalog mapping the page describes takes effect."""

from __future__ import annotations

import re
import tomllib
from urllib.parse import urlsplit

import pytest

from conftest import REPO, query
from publisher_cases import CBS, CBS_80137NED, EUROSTAT
from publisher_server import Publisher, Route, publisher, refresh  # noqa: F401 (publisher: a fixture)

SECTION = "### Following one more Eurostat dataset or CBS table"


def documented_specs() -> dict[str, str]:
    """File name -> spec text, for each indented block of the section that starts `# pipelines/<name>.toml`."""
    page = (REPO / "docs" / "data-engineers.md").read_text(encoding="utf-8")
    section = page[page.index(SECTION) :]
    section = section[: section.index("\n#", len(SECTION))]
    blocks = re.findall(r"((?:^    .*\n|^\n)+)", section, flags=re.M)
    specs = {}
    for block in blocks:
        text = "\n".join(line[4:] for line in block.splitlines()).strip() + "\n"
        named = re.match(r"# pipelines/(\w+\.toml)\n", text)
        if named:
            specs[named.group(1)] = text
    return specs


def pointed_at(spec: str, server: Publisher) -> tuple[str, str]:
    """The spec with its feed's address on the loopback publisher (same path and query), and that path."""
    url = tomllib.loads(spec)["feed"]["url"]
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    local = spec.replace(f'url = "{url}"', f'url = "{server.url(path)}"\nallow_http_hosts = ["127.0.0.1"]')
    return local, path


def test_the_page_documents_one_eurostat_and_one_cbs_spec():
    specs = documented_specs()
    assert sorted(specs) == ["cbs_83648ned.toml", "estat_crim_just_ord.toml"]
    assert {tomllib.loads(s)["extractor"] for s in specs.values()} == {"jsonstat", "cbs_odata"}


def test_the_documented_eurostat_spec_follows_a_dataset(scratch_project, publisher):
    spec, path = pointed_at(documented_specs()["estat_crim_just_ord.toml"], publisher)
    publisher.routes[path] = Route((EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json").read_bytes())
    (scratch_project.pipelines_dir / "estat_crim_just_ord.toml").write_text(spec, encoding="utf-8")
    done, [loaded] = refresh(scratch_project, "estat_crim_just_ord")
    assert done.exit_code == 0 and loaded["status"] == "success" and loaded["new"] > 0, done.output
    # The page's query for the series the dataset brought.
    listed = query(
        scratch_project, "SELECT DISTINCT indicator_id FROM observations WHERE source_id = 'estat-crim_just_ord'"
    )
    assert listed == [("estat.une_rt_m.m.sa.total.pc_act.t",)]
    _, [again] = refresh(scratch_project, "estat_crim_just_ord")
    assert again["status"] == "unchanged"


def test_the_documented_cbs_spec_follows_a_table_and_a_mapping_takes_effect(scratch_project, publisher):
    spec, base = pointed_at(documented_specs()["cbs_83648ned.toml"], publisher)
    for endpoint, files in CBS_80137NED.items():
        publisher.routes[f"{base}{endpoint}?$format=json"] = Route((CBS / files[0]).read_bytes())
    (scratch_project.pipelines_dir / "cbs_83648ned.toml").write_text(spec, encoding="utf-8")
    done, [loaded] = refresh(scratch_project, "cbs_83648ned")
    assert done.exit_code == 0 and loaded["status"] == "success" and loaded["new"] == 8100, done.output
    native = "cbs.80137ned.1.99.totaal_1"
    assert (native,) in query(
        scratch_project, "SELECT DISTINCT indicator_id FROM observations WHERE source_id = 'cbs_83648ned'"
    )
    # "add the native id to the indicator's native list": the next refresh answers under the curated id too.
    catalog = scratch_project.schemas_dir / "indicators.toml"
    catalog.write_text(
        catalog.read_text(encoding="utf-8")
        + f'\n[[indicator]]\nid = "employed_persons_total"\nname = "Employed persons"\nunit = "count"\n'
        f'direction = "neutral"\nfrequency = "annual"\nmin = 0\nmax = 100000000\nnative = ["{native}"]\n'
        # CBS counts these jobs in thousands ("1 000 banen"): the catalog says so once, the load converts.
        '\n[[unit]]\nname = "thousand jobs"\npint = "kilocount"\naliases = ["1 000 banen"]\n',
        encoding="utf-8",
    )
    asked = len(publisher.requests)
    done, [mapped] = refresh(scratch_project, "cbs_83648ned")
    assert done.exit_code == 0, done.output
    both = query(
        scratch_project,
        "SELECT indicator_id, value FROM series WHERE geo = 'NL' AND year = 2001 AND indicator_id IN (?, ?) "
        "ORDER BY indicator_id",
        ["employed_persons_total", native],
    )
    assert [i for i, _ in both] == [native, "employed_persons_total"]  # "cbs." sorts first
    assert both[1][1] == pytest.approx(both[0][1] * 1000)
    # Read again from the raw store, not fetched: only the curated copies are new.
    [(copies,)] = query(scratch_project, "SELECT COUNT(*) FROM observations WHERE indicator_id = ?", [native])
    assert (mapped["status"], mapped["new"], mapped["unchanged"]) == ("success", copies, 8100)
    assert [p for p, _ in publisher.requests[asked:]] == [f"{base}TableInfos?$format=json"]
