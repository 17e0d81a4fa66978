"""The inbox cannot be used against the pipelines, and no file in it can block the runs after it.

What must hold: a file that claims another pipeline's source, or whose sidecar leads elsewhere, is refused whole
(exit 2, named, quarantined) and changes no value, no source and no alert; odd names and links are loaded or
quarantined once and the next refresh of the inbox finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from hostile_fixtures import baseline, cli, loaded, run_octracker  # noqa: F401
from warehouse_state import assert_unchanged, snapshot

from published import read_rows

CLAIMING_CSV = b"indicator,geo,period,value\noci.criminality,NL,2025,9.9\n"


def quarantined(settings, name: str) -> list[Path]:
    folder = settings.inbox_dir / "quarantine"
    return sorted(p for p in folder.iterdir() if p.name.endswith(f"-{name}")) if folder.is_dir() else []


def drop(settings, name: str, content: bytes, sidecar: str | None = None) -> Path:
    settings.inbox_dir.mkdir(exist_ok=True)
    path = settings.inbox_dir / name
    path.write_bytes(content)
    if sidecar is not None:
        path.with_name(name + ".meta.toml").write_text(sidecar, encoding="utf-8")
    return path


def criminality(settings, geo: str) -> list[tuple]:
    return read_rows(
        settings.published_path,
        "SELECT value FROM observations WHERE indicator_id = 'oci.criminality' AND geo = ? AND year = 2025",
        [geo],
    )


def test_a_sidecar_claiming_another_pipelines_source_id_is_refused(loaded):
    source_before = read_rows(loaded.published_path, "SELECT * FROM sources WHERE source_id = 'gitoc-oci-2025-nl-be'")
    value_before = criminality(loaded, "NL")
    alerts_before = read_rows(loaded.published_path, "SELECT COUNT(*) FROM trend_alerts")
    drop(loaded, "takeover.csv", CLAIMING_CSV, 'kind = "observations_long"\nsource_id = "gitoc-oci-2025-nl-be"\n')
    before = snapshot(loaded.warehouse)
    result = cli(loaded, "refresh", "inbox")
    assert result.exit_code == 2, result.output
    assert "takeover.csv" in result.stderr and "belongs to pipeline 'oci_2025_profiles'" in result.stderr
    assert_unchanged(loaded.warehouse, before)
    assert criminality(loaded, "NL") == value_before
    assert read_rows(loaded.published_path, "SELECT * FROM sources WHERE source_id = 'gitoc-oci-2025-nl-be'") == (
        source_before
    )
    assert read_rows(loaded.published_path, "SELECT COUNT(*) FROM trend_alerts") == alerts_before
    assert len(quarantined(loaded, "takeover.csv")) == 1
    # The real pipeline is not fooled into skipping: it still sees its own source as it was.
    again = cli(loaded, "refresh", "oci_2025_profiles")
    assert again.exit_code == 0, again.output


def test_a_sidecar_that_links_out_of_the_inbox_is_not_followed(loaded, tmp_path):
    outside = tmp_path / "outside.meta.toml"
    outside.write_text('kind = "observations_long"\ntitle = "A title from outside the inbox"\n', encoding="utf-8")
    path = drop(loaded, "innocent.csv", CLAIMING_CSV.replace(b"9.9", b"5.5"))
    path.with_name("innocent.csv.meta.toml").symlink_to(outside)
    before = snapshot(loaded.warehouse)
    result = cli(loaded, "refresh", "inbox")
    assert result.exit_code == 2, result.output
    assert "innocent.csv.meta.toml" in result.stderr and "symbolic link" in result.stderr
    assert_unchanged(loaded.warehouse, before)
    titles = read_rows(loaded.published_path, "SELECT COUNT(*) FROM sources WHERE title LIKE '%outside the inbox%'")
    assert titles == [(0,)]
    [kept] = quarantined(loaded, "innocent.csv")
    side = kept.with_name(kept.name + ".meta.toml")
    assert side.is_symlink() and os.readlink(side) == str(outside)  # the link itself, moved, never read


def test_a_sidecar_that_is_a_fifo_is_refused_without_blocking(loaded):
    path = drop(loaded, "piped.csv", CLAIMING_CSV.replace(b"oci.criminality,NL", b"oci.criminality,XX"))
    os.mkfifo(path.with_name("piped.csv.meta.toml"))
    done = run_octracker(loaded, "refresh", "inbox", timeout=60)  # reading the FIFO would wait for ever
    assert done.returncode == 2, done.stderr
    assert "piped.csv.meta.toml" in done.stderr and "not a regular file" in done.stderr
    assert cli(loaded, "refresh", "inbox").exit_code == 0


def names_waiting(settings) -> list[str]:
    return sorted(p.name for p in settings.inbox_dir.iterdir() if p.name not in ("archive", "quarantine"))


GOOD_TABLE = b"indicator,geo,period,value,unit\nshootings,BE-BRU,2024,93,count\n"


@pytest.mark.parametrize(
    "name",
    [
        "Statbel shootings [2024].csv",
        "shootings *?[!].csv",
        "s" * 240 + ".csv",  # 244 bytes
        "s" * 246 + ".csv",  # 250 bytes
        "é" * 125 + ".csv",  # 254 bytes
        "s" * 251 + ".csv",  # 255 bytes, the longest name a file can have
    ],
    ids=["brackets", "glob_characters", "244_bytes", "250_bytes", "254_bytes_utf8", "255_bytes"],
)
def test_an_odd_name_is_loaded_once_and_never_blocks_the_next_run(loaded, name):
    drop(
        loaded,
        name,
        GOOD_TABLE,
        'kind = "observations_long"\ntitle = "Odd name"\n' if len(name.encode()) < 240 else None,
    )
    first = cli(loaded, "refresh", "inbox")
    assert first.exit_code == 0, first.output
    assert names_waiting(loaded) == []
    archived = [p for p in (loaded.inbox_dir / "archive").rglob("*") if p.is_file() and p.suffix == ".csv"]
    assert len(archived) == 1 and archived[0].read_bytes() == GOOD_TABLE
    assert len(archived[0].name.encode()) <= 244
    again = cli(loaded, "refresh", "inbox")
    assert again.exit_code == 0 and names_waiting(loaded) == []


@pytest.mark.parametrize("link", ["loop", "pair", "dangling"])
def test_a_link_that_leads_nowhere_is_quarantined_once_and_never_blocks_the_next_run(loaded, link):
    loaded.inbox_dir.mkdir()
    path = loaded.inbox_dir / "loop.csv"
    if link == "loop":
        path.symlink_to("loop.csv")
    elif link == "pair":
        path.symlink_to("other.csv")
        (loaded.inbox_dir / ".hidden-other.csv").symlink_to("loop.csv")
        (loaded.inbox_dir / "other.csv").symlink_to(".hidden-other.csv")
    else:
        path.symlink_to("gone.csv")
    first = cli(loaded, "refresh", "inbox")
    assert first.exit_code == 2, first.output
    assert "loop.csv" in first.stderr and "Traceback" not in first.output
    assert [n for n in names_waiting(loaded) if not n.startswith(".")] == []
    assert quarantined(loaded, "loop.csv")
    again = cli(loaded, "refresh", "inbox")
    assert again.exit_code == 0, again.output


def test_an_archive_move_that_fails_after_the_load_leaves_the_load_recorded_and_the_next_run_moves_it(loaded):
    drop(loaded, "late.csv", GOOD_TABLE, 'kind = "observations_long"\ntitle = "Late archive"\n')
    blocker = loaded.inbox_dir / "archive" / hashlib.sha256(GOOD_TABLE).hexdigest()
    blocker.parent.mkdir()
    blocker.write_text("a file where the file's archive folder should be\n", encoding="utf-8")
    first = cli(loaded, "refresh", "inbox")
    assert first.exit_code == 0, first.output
    assert "loaded and recorded, but not moved to inbox/archive" in first.stderr
    run = read_rows(
        loaded.published_path,
        "SELECT status, rows_new FROM runs WHERE pipeline = 'inbox' ORDER BY started_at DESC LIMIT 1",
    )
    assert run == [("success", 1)]
    assert read_rows(loaded.published_path, "SELECT kept_at FROM inbox_files WHERE file_name = 'late.csv'") == [(None,)]
    # Still blocked: the next run finds the file loaded before and says so again, without failing.
    second = cli(loaded, "refresh", "inbox")
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.stdout and "not moved" in second.stderr
    blocker.unlink()
    third = cli(loaded, "refresh", "inbox")
    assert third.exit_code == 0 and "not moved" not in third.stderr
    assert names_waiting(loaded) == []
    assert read_rows(loaded.published_path, "SELECT COUNT(*) FROM runs WHERE status = 'failed'") == [(0,)]


def shootings_2024(settings) -> list[tuple]:
    return read_rows(
        settings.published_path,
        "SELECT value FROM observations WHERE indicator_id = 'shootings' AND geo = 'BEANR' AND year = 2024",
    )


@pytest.mark.parametrize("dated", [False, True], ids=["by_arrival", "by_published_date"])
def test_the_newest_publication_wins_whatever_order_the_files_are_read_in(loaded, tmp_path, dated):
    sidecar = 'kind = "observations_long"\npublisher = "Statbel"\n'
    old_sidecar = sidecar + ('published = "2025-01-31"\n' if dated else "")
    new_sidecar = sidecar + ('published = "2025-06-30"\n' if dated else "")
    table = GOOD_TABLE.replace(b"BE-BRU", b"BEANR")  # a place no bundled source states
    january = drop(loaded, "jan.csv", table.replace(b",93,", b",89,"), old_sidecar)
    os.utime(january, (time.time() - 3600, time.time() - 3600))  # waiting for an hour
    final = tmp_path / "final.csv"
    final.write_bytes(table.replace(b",93,", b",92,"))
    final.with_name("final.csv.meta.toml").write_text(new_sidecar, encoding="utf-8")
    assert cli(loaded, "ingest", str(final)).exit_code == 0
    assert shootings_2024(loaded) == [(92.0,)]
    result = cli(loaded, "refresh", "inbox")
    assert result.exit_code == 0, result.output
    assert "jan.csv" in result.stderr and "not loaded" in result.stderr
    assert shootings_2024(loaded) == [(92.0,)]
    assert names_waiting(loaded) == []
    assert cli(loaded, "refresh", "inbox").exit_code == 0
    assert shootings_2024(loaded) == [(92.0,)]
