"""The inbox and `octracker ingest`: routing, archive by hash, the same file twice, refusals kept in quarantine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import run_octracker
from octracker.content.documents import SourceMeta, sha256_hex
from octracker.extract.inbox_routing import INBOX_KINDS
from octracker.load.inbox import IngestOverrides, derive_source_id, ingest_inbox, list_inbox_files
from octracker.load.pipeline import ingest_files, open_refresh, refresh
from published import read_rows

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "inbox"
PROFILE_2023 = CASES / "oci_2023_profiles_nl_be.txt"
PROFILE_SIDECAR = """\
kind = "oci_profile"
title = "Global Organized Crime Index 2023: profiles of the Netherlands and Belgium"
publisher = "Global Initiative Against Transnational Organized Crime"
published = "2023-09-26"
edition = 2023
countries = ["NL", "BE"]
"""


def drop(settings, source: Path | bytes, name: str, sidecar: str | None = None) -> Path:
    """Put a file (and its sidecar) into the inbox as an operator would."""
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    target = settings.inbox_dir / name
    target.write_bytes(source if isinstance(source, bytes) else source.read_bytes())
    if sidecar is not None:
        (settings.inbox_dir / f"{name}.meta.toml").write_text(sidecar, encoding="utf-8")
    return target


def query(settings, sql: str, params=None) -> list[tuple]:
    return read_rows(settings.published_path, sql, params)


def inbox_tree(settings) -> list[str]:
    return sorted(
        str(p.relative_to(settings.inbox_dir)) for p in settings.inbox_dir.rglob("*") if p.is_file() or p.is_symlink()
    )


# Index profiles -----------------------------------------------------------------------------------------------


def test_a_profile_with_a_sidecar_is_loaded_archived_by_hash_and_kept_raw(settings):
    dropped = drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR)
    sha = sha256_hex(dropped.read_bytes())
    results = refresh(settings, ["inbox"])
    assert [(r.pipeline, r.subject, r.status) for r in results] == [("inbox", "goci-2023.txt", "success")]
    assert results[0].counts.new == 128
    # Archived with its sidecar under its content hash; the raw store keeps the bytes; nothing deleted.
    assert inbox_tree(settings) == [f"archive/{sha}/goci-2023.txt", f"archive/{sha}/goci-2023.txt.meta.toml"]
    assert (settings.raw_dir / sha[:2] / f"{sha}.txt").read_bytes() == PROFILE_2023.read_bytes()
    source = query(
        settings,
        "SELECT source_id, kind, precedence, published_on, sha256, file_name FROM sources WHERE pipeline = 'inbox'",
    )
    assert source == [
        (
            "oci-profile-global-organized-crime-index-2023-profiles-of-the",
            "oci_profile",
            60,
            dt.date(2023, 9, 26),
            sha,
            "goci-2023.txt",
        )
    ]


def test_an_edition_with_na_changes_gives_no_previous_score_for_the_new_indicators(settings):
    drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR)
    refresh(settings, ["inbox"])
    rows = query(
        settings,
        "SELECT indicator_id, year, value, method FROM observations "
        "WHERE geo = 'NL' AND source_id LIKE 'oci-profile-%' ORDER BY indicator_id, year",
    )
    by_key = {(i, y): (v, m) for i, y, v, m in rows}
    # Printed "2.50n/a": the 2023 score, and no 2021 score derived from it.
    assert by_key[("oci.extortion_and_protection_racketeering", 2023)] == (2.5, "parsed")
    assert ("oci.extortion_and_protection_racketeering", 2021) not in by_key
    # "5.00 n/a" (with a space) reads the same way.
    assert by_key[("oci.trade_in_counterfeit_goods", 2023)] == (5.0, "parsed")
    assert ("oci.trade_in_counterfeit_goods", 2021) not in by_key
    # Printed "5.500.00": a 2021 score derived as score minus change.
    assert by_key[("oci.human_trafficking", 2021)] == (5.5, "derived")
    # The previous edition defaults to edition - 2.
    assert {y for _, y in by_key} == {2021, 2023}


def test_a_profile_without_a_sidecar_is_detected_and_its_countries_read_from_the_narrative(settings):
    drop(settings, PROFILE_2023, "profiles.txt")
    with open_refresh(settings) as (con, catalog):
        [result] = ingest_inbox(con, settings, catalog, overrides=IngestOverrides(edition=2023))
    assert result.status == "success", result.error
    geos = query(settings, "SELECT DISTINCT geo FROM observations WHERE source_id = 'profiles' ORDER BY geo")
    assert geos == [("BE",), ("NL",)]


def test_a_profile_without_an_edition_is_refused_whole_and_kept_in_quarantine(settings):
    drop(settings, PROFILE_2023, "profiles.txt", 'kind = "oci_profile"\n')
    [result] = refresh(settings, ["inbox"])
    assert result.status == "refused" and result.exit_code == 2
    assert "which index edition is this? set `edition` in the sidecar or pass --edition" in result.error
    [kept] = [p for p in inbox_tree(settings) if p.endswith("profiles.txt")]
    assert kept.startswith("quarantine/")
    assert (settings.inbox_dir / f"{kept}.reason.txt").read_text().startswith("profiles.txt: no_edition")
    assert (settings.inbox_dir / f"{kept}.meta.toml").exists()
    assert query(settings, "SELECT COUNT(*) FROM observations") == [(0,)]
    assert query(settings, "SELECT pipeline, check_name, file_name FROM quarantine") == [
        ("inbox", "no_edition", "profiles.txt")
    ]
    assert query(settings, "SELECT status, kept_at FROM inbox_files") == [("refused", kept)]


# The same file twice ------------------------------------------------------------------------------------------


def test_the_same_file_twice_is_a_no_op_reported_unchanged_and_both_copies_are_kept(settings):
    drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR)
    refresh(settings, ["inbox"])
    before = query(settings, "SELECT COUNT(*) FROM observation_history")
    drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR)
    [again] = refresh(settings, ["inbox"])
    assert (again.status, again.exit_code, again.counts.new) == ("unchanged", 0, 0)
    assert query(settings, "SELECT COUNT(*) FROM observation_history") == before
    assert len([p for p in inbox_tree(settings) if p.endswith("goci-2023.txt")]) == 2
    assert query(settings, "SELECT status FROM inbox_files ORDER BY received_at") == [("loaded",), ("unchanged",)]
    assert query(settings, "SELECT status FROM runs WHERE pipeline = 'inbox'") == [("success",), ("success",)]


def test_the_same_bytes_with_other_metadata_are_read_again(settings):
    drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR)
    refresh(settings, ["inbox"])
    drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR + 'source_id = "goci-2023-nl-be"\n')
    [again] = refresh(settings, ["inbox"])
    assert again.status == "success" and again.counts.new == 128


def test_a_publishers_file_given_again_is_known_by_the_kind_its_load_detected(settings):
    """A file with no sidecar is detected (Eurostat's SDMX-CSV); given again, it is reported unchanged under the kind
    its load recorded; under other metadata the same bytes are detected and read again."""
    recorded = ROOT / "tests" / "cases" / "publishers" / "eurostat" / "sdg_04_20.csv"
    [first] = ingest_files(settings, [recorded], stage=True)
    [again] = ingest_files(settings, [recorded], stage=True)
    assert (first.status, again.status) == ("success", "unchanged")
    later = IngestOverrides(published=dt.date(2030, 1, 1))
    [dated] = ingest_files(settings, [recorded], later, stage=True)
    assert (dated.status, dated.counts.new, dated.counts.unchanged) == ("success", 0, first.counts.new)
    sha = sha256_hex(recorded.read_bytes())
    assert query(settings, "SELECT status, kind, sha256 FROM inbox_files ORDER BY received_at") == [
        ("loaded", "sdmx_csv", sha),
        ("unchanged", "sdmx_csv", sha),
        ("loaded", "sdmx_csv", sha),
    ]


def test_a_file_given_to_ingest_is_read_and_hashed_once(settings, tmp_path, monkeypatch):
    """`octracker ingest FILE` reads the file's bytes once, to copy them into the inbox, and hashes them as it writes
    them: its load takes those bytes and that hash (a 70 MB download was read and hashed again, 0.06 s or more)."""
    given = tmp_path / "sdg_04_20.csv"
    given.write_bytes((ROOT / "tests" / "cases" / "publishers" / "eurostat" / "sdg_04_20.csv").read_bytes())
    reads: list[str] = []
    read_bytes = Path.read_bytes

    def counted(path: Path) -> bytes:
        reads.append(path.name)
        return read_bytes(path)

    hashed: list[int] = []

    def hashing(content: bytes) -> str:
        hashed.append(len(content))
        return sha256_hex(content)

    monkeypatch.setattr(Path, "read_bytes", counted)
    monkeypatch.setattr("octracker.load.inbox.sha256_hex", hashing)
    [result] = ingest_files(settings, [given], stage=True)
    assert result.status == "success"
    assert reads.count("sdg_04_20.csv") == 1 and hashed == [len(given.read_bytes())]
    assert query(settings, "SELECT sha256 FROM inbox_files") == [(sha256_hex(given.read_bytes()),)]


# Refusals -----------------------------------------------------------------------------------------------------


def test_an_unrecognised_file_is_refused_with_the_next_move_and_kept(settings):
    drop(settings, b"Minutes of the board meeting.\nNothing to see here.\n", "minutes.txt")
    drop(settings, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "chart.png")
    results = refresh(settings, ["inbox"])
    assert sorted((r.subject, r.status) for r in results) == [("chart.png", "refused"), ("minutes.txt", "refused")]
    by_name = {r.subject: r.error for r in results}
    assert "not a recognised file" in by_name["minutes.txt"] and "--kind" in by_name["minutes.txt"]
    # No kind would make a binary file readable, so its message names the byte at fault instead.
    assert "chart.png: not a file octracker reads: NUL byte at line 3 (byte 8)" in by_name["chart.png"]
    payloads = dict(query(settings, "SELECT file_name, payload FROM quarantine"))
    assert payloads["minutes.txt"].startswith("Minutes of the board meeting.")
    assert payloads["chart.png"].startswith("binary file, 16 bytes, kept at ")
    assert sorted(p.split("-", 1)[1] for p in inbox_tree(settings) if not p.endswith(".reason.txt")) == [
        "chart.png",
        "minutes.txt",
    ]


def test_an_unknown_kind_in_a_sidecar_is_refused(settings):
    drop(settings, PROFILE_2023, "x.txt", 'kind = "oci_profiles"\nedition = 2023\n')
    [result] = refresh(settings, ["inbox"])
    assert result.status == "refused"
    assert "kind 'oci_profiles' is not one of" in result.error


def test_a_symlink_leading_out_of_the_inbox_is_refused_without_reading_it(settings, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    settings.inbox_dir.mkdir(parents=True)
    (settings.inbox_dir / "innocent.csv").symlink_to(secret)
    [result] = refresh(settings, ["inbox"])
    assert result.status == "refused"
    assert "symbolic link" in result.error and "outside the inbox" in result.error
    # The link itself (not the file behind it) is what moved to quarantine; the target is untouched.
    [kept] = [p for p in settings.inbox_dir.rglob("*innocent.csv")]
    assert kept.is_symlink() and kept.parent.name == "quarantine"
    assert secret.read_text() == "do not read me"
    assert "do not read me" not in str(query(settings, "SELECT * FROM quarantine"))
    assert not settings.raw_dir.exists() or not any(settings.raw_dir.rglob("*"))


def test_a_path_with_dotdot_is_refused_and_left_where_it_is(settings):
    outside = settings.data_dir / "outside.txt"
    settings.inbox_dir.mkdir(parents=True)
    outside.write_bytes(PROFILE_2023.read_bytes())
    [result] = ingest_files(settings, [settings.inbox_dir / ".." / "outside.txt"], IngestOverrides(edition=2023))
    assert result.status == "refused"
    assert "is not a file directly in the inbox" in result.error and "'..'" in result.error
    assert outside.exists()
    assert query(settings, "SELECT COUNT(*) FROM observations") == [(0,)]


def test_an_article_becomes_candidates_for_review(settings):
    drop(
        settings,
        ROOT / "pipelines" / "documents" / "004_dfeb4534944dee1c.txt",
        "us-visit.txt",
        'kind = "article"\ntitle = "US visit to Antwerp"\npublished = "2025-09-10"\n',
    )
    [result] = refresh(settings, ["inbox"])
    assert result.status == "success", result.error
    source_id = "article-us-visit-to-antwerp"
    assert query(settings, "SELECT kind, precedence, pipeline FROM sources WHERE source_id = ?", [source_id]) == [
        ("article", 30, "inbox")
    ]
    candidates = query(
        settings, "SELECT indicator_id, geo, number, run_id FROM candidates WHERE source_id = ?", [source_id]
    )
    assert ("cocaine_seized_tonnes", "BEANR", 121.0, result.run_id) in candidates
    assert query(settings, "SELECT COUNT(*) FROM observations WHERE source_id = ?", [source_id]) == [(0,)]
    # Candidates wait for a person: the same article again adds nothing.
    drop(
        settings,
        ROOT / "pipelines" / "documents" / "004_dfeb4534944dee1c.txt",
        "us-visit.txt",
        'kind = "article"\ntitle = "US visit to Antwerp"\npublished = "2025-09-10"\n',
    )
    [again] = refresh(settings, ["inbox"])
    assert again.status == "unchanged"


# Source ids, precedence, order ---------------------------------------------------------------------------------


def test_source_ids_come_from_the_sidecar_then_publisher_or_title_then_the_file_name():
    long, profile = INBOX_KINDS["observations_long"], INBOX_KINDS["oci_profile"]
    assert derive_source_id(long, SourceMeta(source_id="fedpol-2025"), Path("a.csv")) == "fedpol-2025"
    # Tables from one publisher share a source, so a later table revises the earlier one's values.
    assert (
        derive_source_id(long, SourceMeta(publisher="Federal Police", title="Shootings 2025 Q2"), Path("q2.csv"))
        == "observations-long-federal-police"
    )
    # Each index edition is a source of its own.
    assert derive_source_id(profile, SourceMeta(title="GOCI profiles", edition=2023), Path("x.txt")) == (
        "oci-profile-goci-profiles-2023"
    )
    assert derive_source_id(long, SourceMeta(), Path("Shootings 2025.final.csv")) == "shootings-2025"


def test_a_sidecar_precedence_beats_the_kind_default(settings):
    drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR + "precedence = 65\n")
    refresh(settings, ["inbox"])
    assert query(settings, "SELECT precedence FROM sources WHERE pipeline = 'inbox'") == [(65,)]


def test_hidden_files_and_sidecars_are_not_picked_up(settings):
    drop(settings, PROFILE_2023, ".goci.txt.partial")
    drop(settings, PROFILE_2023, "goci.txt", PROFILE_SIDECAR)
    assert [p.name for p in list_inbox_files(settings.inbox_dir)] == ["goci.txt"]


def test_a_full_refresh_runs_the_inbox_after_the_spec_pipelines(settings):
    drop(settings, PROFILE_2023, "goci-2023.txt", PROFILE_SIDECAR)
    results = refresh(settings)
    assert results[-1].pipeline == "inbox"
    assert [r.pipeline for r in results[:-1]] == sorted(r.pipeline for r in results[:-1])


# The command ---------------------------------------------------------------------------------------------------


def test_ingest_copies_the_file_and_its_sidecar_in_and_flags_beat_the_sidecar(settings, tmp_path):
    outside = tmp_path / "downloads" / "goci.txt"
    outside.parent.mkdir()
    outside.write_bytes(PROFILE_2023.read_bytes())
    (tmp_path / "downloads" / "goci.txt.meta.toml").write_text(PROFILE_SIDECAR.replace("2023-09-26", "2023-01-01"))
    done = run_octracker(settings, "ingest", str(outside), "--published", "2023-09-26", "--json")
    assert done.returncode == 0, done.stderr
    assert '"status": "success"' in done.stdout
    assert outside.exists()  # the operator's file is copied, never moved
    assert query(
        settings, "SELECT published_on::VARCHAR, published_precision FROM sources WHERE pipeline = 'inbox'"
    ) == [("2023-09-26", "day")]
    again = run_octracker(settings, "ingest", str(outside), "--published", "2023-09-26")
    assert again.returncode == 0 and "unchanged" in again.stdout


def test_ingest_exits_2_when_a_file_is_refused(settings, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes\n")
    done = run_octracker(settings, "ingest", str(bad))
    assert done.returncode == 2
    assert "notes.txt: not a recognised file" in done.stderr
    missing = run_octracker(settings, "ingest", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    kind = run_octracker(settings, "ingest", str(bad), "--kind", "oci_profile")
    assert kind.returncode == 2 and "which index edition is this?" in kind.stderr


def test_an_ingest_process_ends_with_its_files_closed_and_nothing_left_behind(settings):
    """The command's process ends without Python's last garbage collection (`octracker.cli.run`): whatever it
    wrote is complete when it exits, the writer's file closed (no write-ahead log beside it) and holding what the
    published copy holds, and no half-made copy or work file is left."""
    table = ROOT / "tests" / "cases" / "publishers" / "eurostat" / "sdg_04_20.csv"
    done = run_octracker(settings, "--quiet", "ingest", str(table))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    folder = settings.warehouse.parent
    assert not list(folder.glob("*.wal")) and not list(folder.rglob(".*.tmp"))
    count = "SELECT COUNT(*) FROM observation_history WHERE source_id = 'estat-sdg_04_20'"
    assert read_rows(settings.warehouse, count) == read_rows(settings.published_path, count) != [(0,)]
    again = run_octracker(settings, "ingest", str(table))
    assert again.returncode == 0 and "unchanged" in again.stdout


@pytest.mark.parametrize("flag", ["--edition", "--published"])
def test_ingest_refuses_bad_flag_values(settings, tmp_path, flag):
    done = run_octracker(settings, "ingest", str(PROFILE_2023), flag, "last-year")
    assert done.returncode == 2
