"""`octracker refresh` end to end on a real warehouse (DuckDB file and DuckLake).

Loads, idempotency, revisions, refusals.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import REPO, query, run_cli
from octracker.cli import main

pytestmark = pytest.mark.usefixtures("backend")

PROFILE = "documents/003_3261f147cc4f0198.txt"


def test_refresh_loads_index_observations_for_be_and_nl_and_prints_a_summary(settings):
    result = run_cli(settings, "refresh")
    assert result.exit_code == 0, result.output
    assert "oci_2025_profiles" in result.output and "144" in result.output
    # The profiles: BE and NL (the index workbook, loaded too, scores every country: see test_index_workbook.py).
    profiles = "indicator_id LIKE 'oci.%' AND source_id = 'gitoc-oci-2025-nl-be'"
    counts = dict(query(settings, f"SELECT geo, COUNT(*) FROM observations WHERE {profiles} GROUP BY geo"))
    assert counts == {"BE": 72, "NL": 72}
    methods = dict(query(settings, f"SELECT method, COUNT(*) FROM observations WHERE {profiles} GROUP BY method"))
    assert methods == {"parsed": 68, "derived": 68, "computed": 8}
    assert query(
        settings,
        "SELECT value, method FROM series WHERE indicator_id = 'oci.cocaine_trade' AND geo = 'NL' ORDER BY year",
    ) == [(7.0, "parsed"), (7.5, "parsed"), (8.0, "parsed")]  # 2021 and 2023 as the workbook publishes them


def test_every_bundled_document_is_a_source_with_its_hash(settings):
    run_cli(settings, "refresh")
    rows = query(settings, "SELECT file_name, sha256 FROM sources ORDER BY file_name")
    documents = REPO / "pipelines" / "documents"
    assert len([f for f, _ in rows if (documents / f).exists()]) == len(list(documents.glob("*.meta.toml")))
    for file_name, sha in rows:
        import hashlib

        # A statistics publisher's feed loaded its bundled snapshot (the tests run offline).
        path = (
            documents / file_name if (documents / file_name).exists() else REPO / "pipelines" / "snapshots" / file_name
        )
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    ((published, precision),) = query(
        settings,
        "SELECT published_on, published_precision FROM sources WHERE source_id = 'vocal-2025-belgium-narco-paradox'",
    )
    assert (published, precision) == (None, "unknown")


def test_second_refresh_reports_nothing_new_and_writes_no_versions(settings):
    run_cli(settings, "refresh")
    before = query(settings, "SELECT COUNT(*) FROM observation_history")[0][0]
    result = run_cli(settings, "refresh", "--json")
    assert result.exit_code == 0
    import json

    summary = {r["pipeline"]: r for r in json.loads(result.output)}
    assert summary["oci_2025_profiles"]["new"] == 0 and summary["oci_2025_profiles"]["revised"] == 0
    assert summary["oci_2025_profiles"]["unchanged"] == 144
    assert query(settings, "SELECT COUNT(*) FROM observation_history")[0][0] == before


def test_a_changed_score_in_the_document_becomes_a_revision(scratch_project):
    settings = scratch_project
    run_cli(settings, "refresh", "oci_2025_profiles")
    doc = settings.pipelines_dir / PROFILE
    # NL cocaine trade: 8.00 (+0.50) becomes 8.50 (+1.00): the 2025 score and the derived 2023 stay consistent.
    text = doc.read_text(encoding="utf-8")
    assert text.count("Cocaine trade\n8.000.50\n") == 1
    doc.write_text(text.replace("Cocaine trade\n8.000.50\n", "Cocaine trade\n8.501.00\n"), encoding="utf-8")
    # Criminal markets must follow, or the aggregate check refuses the document: (80 + 0.5) / 15 = 5.37.
    text = doc.read_text(encoding="utf-8")
    doc.write_text(text.replace("Criminal markets\n5.330.10\n", "Criminal markets\n5.370.13\n", 1), encoding="utf-8")
    result = run_cli(settings, "refresh", "oci_2025_profiles", "--json")
    assert result.exit_code == 0, result.output
    versions = query(
        settings,
        "SELECT value, valid_to IS NULL FROM observation_history WHERE indicator_id = "
        "'oci.cocaine_trade' AND geo = 'NL' AND year = 2025 ORDER BY valid_from",
    )
    assert versions == [(8.0, False), (8.5, True)]
    assert query(
        settings,
        "SELECT value FROM observations WHERE indicator_id = 'oci.cocaine_trade' AND geo = 'NL' AND year = 2025",
    ) == [(8.5,)]


def test_a_malformed_profile_is_refused_whole_while_other_pipelines_load(scratch_project):
    settings = scratch_project
    doc = settings.pipelines_dir / PROFILE
    lines = doc.read_text(encoding="utf-8").split("\n")
    assert lines[34] == "8.000.50"  # line 35: NL cocaine trade
    lines[34] = "80.000.50"
    doc.write_text("\n".join(lines), encoding="utf-8")
    result = run_cli(settings, "refresh")
    assert result.exit_code == 2
    assert "003_3261f147cc4f0198.txt, line 35" in result.output and "score_out_of_range" in result.output
    assert query(settings, "SELECT COUNT(*) FROM observations WHERE source_id = 'gitoc-oci-2025-nl-be'")[0][0] == 0
    quarantined = query(settings, "SELECT check_name, line_no, payload FROM quarantine")
    assert ("score_out_of_range", 35) in [(c, n) for c, n, _ in quarantined]
    assert any("80.000.50" in payload for _, _, payload in quarantined)
    statuses = dict(query(settings, "SELECT pipeline, status FROM runs"))
    assert statuses["oci_2025_profiles"] == "failed" and statuses["article_us_visit"] == "success"
    # The other documents (four text documents and the index workbook) are sources; the refused profile is not.
    publishers = "('sdmx_csv', 'cbs_odata', 'unodc_xlsx')"
    documents = query(settings, f"SELECT file_name FROM sources WHERE kind NOT IN {publishers}")
    assert sorted(f for (f,) in documents) == sorted(
        p.name.removesuffix(".meta.toml")
        for p in (settings.pipelines_dir / "documents").glob("*.meta.toml")
        if not p.name.startswith("003_")
    )


def test_unknown_pipeline_is_a_usage_error(settings):
    result = run_cli(settings, "refresh", "no_such_pipeline")
    assert result.exit_code == 2
    assert "unknown pipeline(s): no_such_pipeline" in result.output


@pytest.mark.one_backend
def test_warehouse_flag_and_environment_choose_the_file(tmp_path, settings):
    target = tmp_path / "elsewhere" / "mine.duckdb"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--project", str(settings.project), "refresh", "oci_2021_belgium"],
        env={"OCTRACKER_WAREHOUSE": str(target)},
    )
    assert result.exit_code == 0, result.output
    assert target.exists() and (target.parent / "published" / "mine.duckdb").exists()


@pytest.mark.one_backend
@pytest.mark.parametrize("command", ["refresh", "sql", "status", "summary", "review", "migrate-to"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
