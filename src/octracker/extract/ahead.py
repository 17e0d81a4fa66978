"""Work done ahead, in threads, on the items of a sequence, handed over in order.

For work that is mostly polars queries (which run without the interpreter's lock): a large table's batches are read
and checked this way while DuckDB inserts the batch before them.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Done = TypeVar("Done")


def done_ahead(
    work: Callable[[Item], Done], items: Iterable[Item], *, ahead: int, name: str
) -> Generator[Done, None, None]:
    """`work` of each item, in the items' order, with up to `ahead` items worked on in threads ahead of the one handed
    over (each item taken from `items` when its work is begun).

    An error of an item's work is raised when that item's turn comes. When the caller stops early (or an error is
    raised), the work begun is waited for, the work not begun is dropped, and `items` is closed if it can be.
    """
    pool = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix=name)
    upcoming = iter(items)
    try:
        pending: collections.deque[Future[Done]] = collections.deque(
            pool.submit(work, item) for item in itertools.islice(upcoming, ahead)
        )
        while pending:
            done = pending.popleft().result()
            pending.extend(pool.submit(work, item) for item in itertools.islice(upcoming, 1))
            yield done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        close = getattr(upcoming, "close", None)
        if close is not None:
            close()
