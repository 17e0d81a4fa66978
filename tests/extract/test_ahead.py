"""Work done ahead in threads: in order, errors at their turn, nothing left running when the caller stops."""

from __future__ import annotations

import threading
import time

import pytest

from octracker.extract.ahead import done_ahead


def test_the_work_is_handed_over_in_the_items_order_however_long_each_takes():
    def work(n: int) -> int:
        time.sleep(0.02 * (5 - n))  # the first items take longest
        return n * n

    assert list(done_ahead(work, range(5), ahead=2, name="test")) == [0, 1, 4, 9, 16]


def test_an_error_is_raised_at_its_items_turn_after_the_items_before_it():
    def work(n: int) -> int:
        if n == 2:
            raise ValueError("item 2")
        return n

    handed = []
    with pytest.raises(ValueError, match="item 2"):
        for n in done_ahead(work, range(5), ahead=2, name="test"):
            handed.append(n)
    assert handed == [0, 1]


def test_a_caller_that_stops_early_leaves_no_work_running_and_the_items_closed():
    begun: list[int] = []
    closed = []

    def items():
        try:
            yield from range(100)
        finally:
            closed.append(True)

    def work(n: int) -> int:
        begun.append(n)
        time.sleep(0.01)
        return n

    read = done_ahead(work, items(), ahead=2, name="test")
    assert next(read) == 0
    read.close()
    assert closed == [True]
    assert len(begun) <= 4  # the item handed over, the two ahead of it and the one begun after it at most
    assert not [t for t in threading.enumerate() if t.name.startswith("test")]
