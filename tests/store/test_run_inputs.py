"""A refresh whose inputs are all unchanged skips each pipeline; any change to what its rows depend on re-reads."""

from __future__ import annotations

import json

import duckdb
from click.testing import CliRunner

from octracker.cli import main


def refresh(settings, *names):
    result = CliRunner().invoke(
        main, ["--project", str(settings.project), "--warehouse", str(settings.warehouse), "refresh", "--json", *names]
    )
    assert result.exit_code == 0, result.output
    return {r["pipeline"]: r for r in json.loads(result.output)}


def versions(settings):
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        return con.execute("SELECT COUNT(*) FROM observation_history").fetchone()[0]
    finally:
        con.close()


def test_a_second_refresh_skips_every_pipeline_whose_inputs_are_unchanged(scratch_project):
    first = refresh(scratch_project, "oci_2025_profiles")
    before = versions(scratch_project)
    again = refresh(scratch_project, "oci_2025_profiles")["oci_2025_profiles"]
    assert first["oci_2025_profiles"]["status"] == "success"
    assert again["status"] == "unchanged"
    assert (again["new"], again["revised"], again["unchanged"], again["retracted"]) == (0, 0, 144, 0)
    assert versions(scratch_project) == before


def test_a_changed_spec_or_schema_file_makes_the_pipeline_read_its_document_again(scratch_project):
    refresh(scratch_project, "oci_2025_profiles")
    spec = scratch_project.pipelines_dir / "oci_2025_profiles.toml"
    spec.write_text(spec.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    assert refresh(scratch_project, "oci_2025_profiles")["oci_2025_profiles"]["status"] == "success"
    assert refresh(scratch_project, "oci_2025_profiles")["oci_2025_profiles"]["status"] == "unchanged"
    catalog = scratch_project.schemas_dir / "indicators.toml"
    catalog.write_text(catalog.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    rerun = refresh(scratch_project, "oci_2025_profiles")["oci_2025_profiles"]
    assert (rerun["status"], rerun["unchanged"]) == ("success", 144)
