"""Whether a key repeats anywhere in a table read in batches, with the memory of a batch, not of the table.

A table sorted by series, then period (the rule for a statistics office's export) proves it in passing: within each
run of rows of one series the periods only go up, and no series has two runs. Only a table that does not keep to this
is judged by the hashes of all its keys, bucketed in files (`KeyHashes`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from octracker.extract.validation import key_hashes_of, unique_hashes
from octracker.extracts import SERIES_STARTS

if TYPE_CHECKING:
    import pyarrow as pa

#: A batch's key hashes by bucket of their low bits (see `KeyHashes.of`).
KeyBuckets = list[tuple[int, "pa.Buffer"]]


@dataclass(frozen=True)
class KeyRuns:
    """A batch's rows as runs of one series (`KeyRuns.of`): what `RepeatedKeys` needs of them."""

    #: Whether, within each run, every row's period comes after the row's before it (and no key has a null).
    ordered: bool
    #: Whether each row starts a run (`octracker.extracts.SERIES_STARTS`).
    starts: pl.Series
    #: A hash of the series of each run, in order.
    series: pl.Series
    #: The key of the batch's first and last row (None for an empty batch).
    first: tuple[object, ...] | None
    last: tuple[object, ...] | None

    @classmethod
    def of(cls, frame: pl.DataFrame, key: list[str]) -> KeyRuns:
        """The runs of `frame`, whose `key` is its series columns followed by the period's start and end."""
        *series, start, end = (pl.col(c) for c in key)
        same = pl.all_horizontal(c.eq_missing(c.shift(1)) for c in series).fill_null(False)
        start_before, end_before = start.shift(1), end.shift(1)
        later = ((start > start_before) | ((start == start_before) & (end > end_before))).fill_null(False)
        keys = frame.lazy().select(key)
        ordered, starts = pl.collect_all(
            [
                keys.select((~same | later).all() & ~pl.any_horizontal(pl.col(c).is_null().any() for c in key)),
                keys.select((~same).alias(SERIES_STARTS)),
            ]
        )
        ends = frame.select(key)
        return cls(
            ordered=bool(ordered.item()),
            starts=starts.to_series(),
            series=ends.filter(starts.to_series()).select(pl.struct(key[:-2]).hash()).to_series(),
            first=ends.row(0) if ends.height else None,
            last=ends.row(-1) if ends.height else None,
        )


class RepeatedKeys:
    """Told each batch of a table in order (`add`), whether any key repeats in it (`unique`, after the last).

    While the batches keep to runs (see the module), each batch's runs are checked as they come and only a hash per
    run is kept; a run that goes on into the next batch is one run. From the first batch that does not, or at the end
    should a series have two runs, every key's hash is judged instead (`KeyHashes`): those of the batches before are
    read again by `hashes_at` (`KeyHashes.of` the batch at that offset). So an unsorted table costs what it always
    did, and only one that turns out unsorted late reads its batches twice.
    """

    #: Runs of fewer rows than this on average turn the check to hashes: the runs' hashes would hold memory by the row.
    RUN_ROWS = 16
    #: ... but as many runs as this are kept whatever their length (a small table, or its first batches).
    FEW_RUNS = 4096

    def __init__(self, key: list[str], hashes_at: Callable[[int], KeyBuckets]) -> None:
        self.key, self._hashes_at = key, hashes_at
        self._offsets: list[int] = []
        self._series: list[pl.Series] = []
        self._runs = self._rows = 0
        self._last: tuple[object, ...] | None = None
        self._hashes: KeyHashes | None = None

    def __enter__(self) -> RepeatedKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hashes is not None:
            self._hashes.__exit__(*exc)

    @property
    def by_runs(self) -> bool:
        """Whether the batches so far are judged by their runs (not by the hash of every key)."""
        return self._hashes is None

    def add(self, offset: int, frame: pl.DataFrame, runs: KeyRuns, hashes: KeyBuckets | None = None) -> None:
        """The batch of rows from `offset` on, its `KeyRuns` and, when made already, its `KeyHashes.of`."""
        if self._hashes is None and self._kept_to_runs(frame, runs):
            self._offsets.append(offset)
            return
        self._to_hashes().add(hashes if hashes is not None else KeyHashes.of(frame, self.key))

    def unique(self) -> bool:
        """Whether no two keys of the batches added are equal."""
        if self._hashes is None:
            if unique_hashes(pl.concat(self._series, rechunk=True)) if self._series else True:
                return True
            self._to_hashes()  # a series has two runs: judged by the keys themselves
        assert self._hashes is not None
        return self._hashes.unique()

    def _kept_to_runs(self, frame: pl.DataFrame, runs: KeyRuns) -> bool:
        if not runs.ordered:
            return False
        series = runs.series
        if self._last is not None and runs.first is not None:
            *before, start_before, end_before = self._last
            *now, start, end = runs.first
            if before == now:  # the last run of the batch before goes on
                if not (start, end) > (start_before, end_before):
                    return False
                series = series.slice(1)
        self._runs += series.len()
        self._rows += frame.height
        if self._runs > max(self.FEW_RUNS, self._rows // self.RUN_ROWS):
            return False
        self._series.append(series)
        if runs.last is not None:
            self._last = runs.last
        return True

    def _to_hashes(self) -> KeyHashes:
        """The check by hashes, with the hashes of the batches judged by their runs so far."""
        if self._hashes is None:
            self._hashes = KeyHashes().__enter__()
            for offset in self._offsets:
                self._hashes.add(self._hashes_at(offset))
            self._offsets, self._series = [], []
        return self._hashes


class KeyHashes:
    """The key hashes of a table's batches, written to a file per bucket of their low bits, to tell at the end
    whether any key repeats: the check then holds one bucket's hashes at a time. Kept in memory, the hashes grew with
    the table (8 bytes a row: 229 MiB more at the end of a 30M-row load); a hash set of all of them, twice that.
    The files are anonymous temporary files (no name in any folder): closed by the `with` block, or by the system
    when the process ends, a killed load's included, nothing of them is left."""

    BUCKETS = 64

    def __enter__(self) -> KeyHashes:
        # Unbuffered: a batch writes each bucket's hashes at once, a few kilobytes or more.
        self._files = [tempfile.TemporaryFile(prefix="octracker-keys-", buffering=0) for _ in range(self.BUCKETS)]
        return self

    def __exit__(self, *exc: object) -> None:
        for file in self._files:
            file.close()

    @classmethod
    def of(cls, frame: pl.DataFrame, key: list[str]) -> KeyBuckets:
        """The hashes of the frame's keys by bucket, for `add` (any thread may make them)."""
        hashes = key_hashes_of(frame, key).to_frame().with_columns(_bucket=pl.col("key_hash") % cls.BUCKETS)
        found = []
        for (bucket,), part in hashes.partition_by("_bucket", as_dict=True, include_key=False).items():
            array = part.to_series().to_arrow()  # UInt64, no nulls: its values are its data buffer
            start = array.offset * 8
            found.append((int(bucket), array.buffers()[1][start : start + len(array) * 8]))
        return found

    def add(self, buckets: KeyBuckets) -> None:
        """Write the hashes of a batch (see `of`)."""
        for bucket, data in buckets:
            self._files[bucket].write(data)

    def unique(self) -> bool:
        """Whether no two of the hashes added are equal (so no two keys are)."""
        import pyarrow as pa

        for file in self._files:
            file.seek(0)
            data = pa.py_buffer(file.read())
            hashes = pa.Array.from_buffers(pa.uint64(), len(data) // 8, [None, data])
            # As a record batch: polars makes a Series of a pyarrow array through pyarrow's compute module, whose
            # import (0.04 s of CPU) would hold up the end of the load.
            frame = pl.from_arrow(pa.record_batch([hashes], names=["key_hash"]))
            assert isinstance(frame, pl.DataFrame)
            if not unique_hashes(frame.to_series()):
                return False
        return True
