"""Several refresh processes writing one lake at once, and a reader throughout: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakes import cli_options
from octracker.load.pipeline import refresh
from octracker.store.settings import build_settings
from octracker.store.warehouse import open_reader

TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"
PROFILE = "003_3261f147cc4f0198.txt"
WRITERS = 3
ROUNDS = 3


def add_profile_copies(settings, count: int) -> list[tuple[str, Path]]:
    """Pipelines copy_1…copy_N, each reading its own copy of the index profile as its own source."""
    documents = settings.pipelines_dir / "documents"
    sidecar = (documents / f"{PROFILE}.meta.toml").read_text(encoding="utf-8")
    spec = (settings.pipelines_dir / "oci_2025_profiles.toml").read_text(encoding="utf-8")
    copies = []
    for k in range(1, count + 1):
        document = documents / f"copy_{k}.txt"
        document.write_bytes((documents / PROFILE).read_bytes())
        Path(f"{document}.meta.toml").write_text(
            sidecar.replace('source_id = "gitoc-oci-2025-nl-be"', f'source_id = "copy-{k}"'), encoding="utf-8"
        )
        (settings.pipelines_dir / f"copy_{k}.toml").write_text(
            spec.replace(f"documents/{PROFILE}", f"documents/copy_{k}.txt"), encoding="utf-8"
        )
        copies.append((f"copy_{k}", document))
    return copies


def spawn(settings, *args: str) -> subprocess.Popen:
    _, lake_env = cli_options(settings)
    env = {**os.environ, **lake_env, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    return subprocess.Popen(
        [sys.executable, str(TESTS / "lake_workers.py"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float) -> list[dict]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_writers_on_different_pipelines_and_a_reader_leave_a_consistent_history(lake_settings, tmp_path):
    copies = add_profile_copies(lake_settings, WRITERS)
    stop = tmp_path / "stop"
    reader = spawn(lake_settings, "reader", str(stop))
    # All start on an empty lake, so they also race to apply the migrations and views.
    writers = [
        spawn(lake_settings, "writer", str(lake_settings.project), name, str(document), str(ROUNDS))
        for name, document in copies
    ]
    try:
        reports = {name: finish(w, timeout=240) for (name, _), w in zip(copies, writers)}
    finally:
        stop.touch()
    (seen,) = finish(reader, timeout=60)

    # Every round of every writer committed, and saw exactly what its own previous round left.
    for name, rounds in reports.items():
        assert [r["status"] for r in rounds] == ["success"] * ROUNDS, (name, rounds)
        assert (rounds[0]["new"], rounds[0]["revised"]) == (144, 0)
        revised = rounds[1]["revised"]
        assert revised > 0 and all(r["revised"] == revised and r["new"] == 0 for r in rounds[1:]), rounds
    # The reader saw many snapshots, each one whole.
    assert seen["snapshots"] >= 3 and seen["violations"] == []

    con = open_reader(lake_settings.lake)
    try:
        # No duplicate version, and each key's versions follow one another without gap or overlap.
        broken_chains = con.execute("""
            SELECT source_id, indicator_id, geo, year FROM (
                SELECT *, LEAD(valid_from) OVER (PARTITION BY indicator_id, geo, period_start, period_end, source_id
                                                 ORDER BY valid_from) AS next_from
                FROM observation_history)
            WHERE valid_to IS DISTINCT FROM next_from
        """).fetchall()
        assert broken_chains == []
        versions = dict(con.execute("SELECT source_id, COUNT(*) FROM observation_history GROUP BY ALL").fetchall())
        # Every writer did the same work: the same number of versions, at least one per revised value per round
        # (a row restated with new evidence only is a version too, though not counted as revised).
        assert set(versions) == {f"copy-{k}" for k in range(1, WRITERS + 1)} and len(set(versions.values())) == 1
        assert next(iter(versions.values())) >= 144 + (ROUNDS - 1) * revised
        runs = con.execute("SELECT pipeline, status, COUNT(*) FROM runs GROUP BY ALL ORDER BY pipeline").fetchall()
        assert runs == [(name, "success", ROUNDS) for name, _ in copies]
        lake_views = {
            view: sorted(con.execute(f"SELECT * FROM {view}").fetchall(), key=repr)
            for view in ("observations", "series", "source_conflicts")
        }
    finally:
        con.close()

    # The same documents refreshed by one process into a file give the very same views.
    file_settings = build_settings(project=lake_settings.project, warehouse=tmp_path / "file" / "w.duckdb", environ={})
    refresh(file_settings, [name for name, _ in copies])
    con = open_reader(file_settings.read_target)
    try:
        for view, rows in lake_views.items():
            assert sorted(con.execute(f"SELECT * FROM {view}").fetchall(), key=repr) == rows, view
    finally:
        con.close()
