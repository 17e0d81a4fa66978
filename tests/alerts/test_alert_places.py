"""Alerts are raised for the places the project follows (`places` in schemas/alert_rules.toml): a table of every
country is loaded whole, but only Belgium, the Netherlands and the EU (and places within them) alert."""

from __future__ import annotations

import re

import pytest

from conftest import query, run_cli
from octracker.content.alert_rules import load_alert_places
from octracker.errors import SpecError

pytestmark = pytest.mark.usefixtures("backend")

#: An index table of three countries for two editions: cocaine trade up a full point everywhere.
EDITIONS = {
    2023: "Country,Cocaine trade\nBelgium,7.00\nNetherlands,6.50\nGermany,5.00\n",
    2025: "Country,Cocaine trade\nBelgium,8.00\nNetherlands,7.50\nGermany,6.00\n",
}


def ingest_editions(settings, tmp_path) -> None:
    for edition, text in EDITIONS.items():
        path = tmp_path / f"index_{edition}.csv"
        path.write_text(text, encoding="utf-8")
        done = run_cli(settings, "ingest", str(path), "--kind", "oci_wide", "--edition", str(edition))
        assert done.exit_code == 0, done.output


def moved(settings) -> list[str]:
    return [geo for (geo,) in query(settings, "SELECT geo FROM trend_alerts WHERE rule = 'index_move' ORDER BY geo")]


def test_only_the_places_followed_raise_alerts(scratch_project, tmp_path) -> None:
    ingest_editions(scratch_project, tmp_path)
    assert query(scratch_project, "SELECT COUNT(DISTINCT geo) FROM edition_changes WHERE change = 1") == [(3,)]
    assert moved(scratch_project) == ["BE", "NL"]


def test_with_no_places_listed_every_place_raises_alerts(scratch_project, tmp_path) -> None:
    rules = scratch_project.schemas_dir / "alert_rules.toml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(re.sub(r"(?m)^places = .*$", "places = []", text), encoding="utf-8")
    ingest_editions(scratch_project, tmp_path)
    assert moved(scratch_project) == ["BE", "DE", "NL"]


@pytest.mark.one_backend
def test_places_must_be_geo_ids(tmp_path) -> None:
    path = tmp_path / "alert_rules.toml"
    path.write_text('places = ["BE", "Belgium"]\n', encoding="utf-8")
    with pytest.raises(SpecError, match="places must be a list of geo ids"):
        load_alert_places(path)
    path.write_text('places = ["BE", "NL", "BE"]\n', encoding="utf-8")
    assert load_alert_places(path) == ("BE", "NL")
