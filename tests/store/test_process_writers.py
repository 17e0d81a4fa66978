"""Threads of one process write to the warehouse one at a time, as processes do.

DuckDB's file lock keeps a second process out but lets a second connection of the same process in: the
scheduler's alert delivery and its pipeline jobs run in threads of one process, so octracker takes turns itself.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from octracker.errors import WarehouseBusy
from octracker.store.warehouse import open_writer


def test_a_second_thread_waits_for_the_writer_and_gives_up_after_the_lock_timeout(settings):
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with open_writer(settings) as con:
            con.execute("CREATE TABLE IF NOT EXISTS turns (who TEXT)")
            con.execute("INSERT INTO turns VALUES ('first')")
            holding.set()
            release.wait(30)

    first = threading.Thread(target=hold)
    first.start()
    try:
        assert holding.wait(30)
        impatient = dataclasses.replace(settings, lock_timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match="another job of this process is writing"):
            with open_writer(impatient):
                pass
        # Its own 0.5 s, with a loaded machine's margin; not the 30 s the first writer may hold the warehouse.
        assert 0.4 < time.monotonic() - started < 20
    finally:
        release.set()
        first.join(30)
    # Released: the next writer gets its turn and sees what the first committed.
    with open_writer(settings) as con:
        con.execute("INSERT INTO turns VALUES ('second')")
        assert con.execute("SELECT who FROM turns ORDER BY who").fetchall() == [("first",), ("second",)]


def test_a_thread_that_holds_the_writer_may_open_it_again(settings):
    with open_writer(settings) as outer, open_writer(dataclasses.replace(settings, lock_timeout_s=0.5)) as inner:
        inner.execute("CREATE TABLE nested (x INTEGER)")
        inner.execute("INSERT INTO nested VALUES (1)")
        assert outer.execute("SELECT x FROM nested").fetchall() == [(1,)]
