"""The copy analysts read: the committed warehouse whole, swapped in by a rename, made from the spare when it is free.

A DuckDB file warehouse only (a lake publishes nothing).
"""

from __future__ import annotations

import os

import duckdb

from octracker.load.pipeline import refresh
from octracker.store.warehouse import SPARE_CHUNK, publish_spare_path, refresh_spare

PIPELINE = "oci_2025_profiles"


def runs_in(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()


def assert_published_whole(settings) -> None:
    # What analysts open is the committed, checkpointed warehouse, byte for byte.
    assert settings.published_path.read_bytes() == settings.warehouse.read_bytes()


def test_each_refresh_publishes_the_warehouse_whole_and_a_reader_keeps_the_copy_it_opened(settings):
    refresh(settings, [PIPELINE])
    published = settings.published_path
    spare = publish_spare_path(published)
    # An analyst opens the first copy and keeps it open through the next refreshes.
    analyst = duckdb.connect(str(published), read_only=True)
    try:
        seen = analyst.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        # The second refresh writes a new copy; the first becomes the spare. The third finds the analyst still on the
        # spare: it writes a new copy again, and the second becomes the spare.
        for _ in range(2):
            refresh(settings, [PIPELINE])
            assert_published_whole(settings)
        second = os.stat(spare).st_ino
        # Nobody has the second copy open: the fourth refresh brings it up to date and publishes it.
        refresh(settings, [PIPELINE])
        assert_published_whole(settings)
        assert os.stat(published).st_ino == second
        assert analyst.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == seen
    finally:
        analyst.close()
    assert runs_in(published) == seen + 3


def test_a_spare_left_half_written_is_never_read_and_the_next_refresh_publishes_whole(settings):
    for _ in range(2):
        refresh(settings, [PIPELINE])
    published = settings.published_path
    spare = publish_spare_path(published)
    before = runs_in(published)
    # What a publisher killed while bringing the spare up to date leaves: some of its blocks overwritten.
    with open(spare, "r+b") as fh:
        fh.seek(spare.stat().st_size // 3)
        fh.write(b"\x00" * 1_000_000)
    assert runs_in(published) == before
    refresh(settings, [PIPELINE])
    assert_published_whole(settings)
    assert runs_in(published) == before + 1


def test_a_spare_is_brought_up_to_date_byte_for_byte_whatever_it_holds(tmp_path):
    # Blocks of either half differ, the last one is short, and the spare is longer or shorter than the warehouse.
    source = tmp_path / "octracker.duckdb"
    data = os.urandom(5 * SPARE_CHUNK + 1000)
    source.write_bytes(data)
    spare = tmp_path / "spare"
    for held in (
        data[:SPARE_CHUNK] + b"\x00" * 10 + data[SPARE_CHUNK + 10 : -5] + b"x" * 5,
        data[: 2 * SPARE_CHUNK],
        data + os.urandom(3 * SPARE_CHUNK),
        b"",
    ):
        spare.write_bytes(held)
        assert refresh_spare(source, spare)
        assert spare.read_bytes() == data
