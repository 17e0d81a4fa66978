"""Migration 0019 keeps what one load wrote alike once, in `loads`: a warehouse made before it reads the same history
after it, on a file and on a lake."""

from __future__ import annotations

import pytest

from conftest import migrations_before
from octracker.store.warehouse import apply_migrations, apply_views, open_writer

pytestmark = pytest.mark.usefixtures("backend")

CITATION = "statistics.parquet (sha256 " + "ab" * 32 + ") row"
#: Versions as a warehouse of 0018 holds them: a prose source revised once (its first version closed), and a table
#: read by reference over two runs, one row of it with a note and a flag.
ROWS = [
    ("shootings", "BE-BRU", 2023, 90.0, "press", "parsed", "The police counted 90 shootings.", None, None, "articles",
     "run-1", "2026-01-01 10:00:00", "2026-02-01 10:00:00", None),
    ("shootings", "BE-BRU", 2023, 92.0, "press", "parsed", "The police now count 92 shootings.", None, None, "articles",
     "run-2", "2026-02-01 10:00:00", None, None),
    ("homicides", "BE", 2023, 150.0, "stats", "parsed", CITATION, 1, None, "stats", "run-3", "2026-01-01 11:00:00",
     None, None),
    ("homicides", "NL", 2023, 120.0, "stats", "parsed", CITATION, 2, "provisional", "stats", "run-3",
     "2026-01-01 11:00:00", None, "p"),
    ("homicide_rate", "BE", 2023, 1.3, "stats", "computed", "homicides per 100,000 inhabitants", None, None, "stats",
     "run-3", "2026-01-01 11:00:00", None, None),
]  # fmt: skip


def test_the_history_reads_the_same_once_each_load_is_kept_apart(settings, tmp_path):
    before = migrations_before(settings.migrations_dir, tmp_path / "migrations_before", "0019")
    with open_writer(settings) as con:
        apply_migrations(con, before)
        con.executemany(
            "INSERT INTO observation_history (indicator_id, geo, year, value, unit, qualifier, is_partial, source_id, "
            "method, evidence, evidence_row, note, pipeline, run_id, valid_from, valid_to, flags) "
            "VALUES (?, ?, ?, ?, 'count', 'exact', false, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ROWS,
        )
        held = sorted(con.execute("SELECT * FROM observation_history").fetchall(), key=repr)

        assert apply_migrations(con, settings.migrations_dir) == [
            "0019_loads.sql",
            "0020_series_keys.sql",
            "0021_load_units.sql",
        ]
        apply_views(con, settings.views_dir)

        assert sorted(con.execute("SELECT * FROM observation_history").fetchall(), key=repr) == held
        # One load per run, source, method and cited document; the rows read by reference keep no evidence of their
        # own, every other row its sentence.
        loads = con.execute("SELECT run_id, source_id, method, citation FROM loads ORDER BY ALL").fetchall()
        assert loads == [
            ("run-1", "press", "parsed", None),
            ("run-2", "press", "parsed", None),
            ("run-3", "stats", "computed", None),
            ("run-3", "stats", "parsed", CITATION),
        ]
        assert con.execute("SELECT COUNT(*) FROM observation_versions WHERE evidence IS NULL").fetchone() == (2,)
