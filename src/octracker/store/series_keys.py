"""Series ids: a stored version names its series (indicator_id, geo) by an integer id, kept once with the series' text
key in `series_keys` (migration 0020), numbered in the order the writer first meets each series.

The writer finds the versions of a few series by these ids: DuckDB's zonemaps skip the row groups whose ids are out of
range, where a text's zonemap keeps only its first 8 bytes, and ids given in the order a table states its series are
clustered as its rows are.
"""

from __future__ import annotations

import duckdb
import polars as pl

from octracker.extracts import SERIES_STARTS
from octracker.store.rows import scalar

#: A series' text key, as frames and `observation_history` hold it.
SERIES_KEY = ("indicator_id", "geo")


class SeriesIds:
    """The ids of the series a write meets: those the warehouse knows, and those it numbers anew (after the largest
    id there), to be listed in `series_keys` in the writer's transaction (`write_new`) before it commits."""

    def __init__(self, known: pl.DataFrame, next_id: int) -> None:
        self.ids: dict[tuple[str, str], int] = dict(
            zip(
                zip(*(known.get_column(c).to_list() for c in SERIES_KEY), strict=True),
                known["series_id"].to_list(),
                strict=True,
            )
        )
        self.next_id = next_id
        self.new: list[tuple[int, str, str]] = []
        #: The id of every series `of` has given rows of, known or new.
        self.met: set[int] = set()

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, keys: pl.DataFrame | None = None) -> SeriesIds:
        """The series the warehouse knows (those of `keys` only, a frame of distinct SERIES_KEY, when given), read in
        the writer's transaction: on a lake in PostgreSQL its writers commit one at a time (octracker.store.writers),
        so the next id is free."""
        next_id = scalar(con, "SELECT COALESCE(MAX(series_id), 0) + 1 FROM series_keys")
        if keys is None:
            known = con.execute("SELECT series_id, indicator_id, geo FROM series_keys").pl()
        else:
            # Through the Arrow stream interface, as `write_new` lists series (a list parameter is converted value by
            # value).
            con.register("_series_asked", keys.select(SERIES_KEY).__arrow_c_stream__())
            try:
                known = con.execute(
                    "SELECT k.series_id, k.indicator_id, k.geo FROM series_keys AS k "
                    "SEMI JOIN _series_asked AS a USING (indicator_id, geo)"
                ).pl()
            finally:
                con.unregister("_series_asked")
        return cls(known.select(pl.col("series_id").cast(pl.Int64), *SERIES_KEY), int(next_id))

    def of(self, frame: pl.DataFrame) -> pl.Series:
        """The series id of each row of `frame` (which holds SERIES_KEY); a series not known yet is numbered now.

        Rows come grouped by series as a rule (a table sorted by series, then period): each run of rows of one series
        is looked up once, in a dictionary, so a table of ten million rows looks up its twenty thousand series, not
        every row, and no join of polars' runs beside DuckDB's scan that asks for the part (it kept 0.2 GiB more at
        the peak of a 10M-row first load)."""
        if frame.is_empty():
            return pl.Series("series_id", [], dtype=pl.Int64)
        keys = frame.select(pl.col(c).cast(pl.String) for c in SERIES_KEY)
        # Where a run of rows of one series starts: as the reader found it, or each text compared with the row before.
        if SERIES_STARTS in frame.columns:
            starts = frame.get_column(SERIES_STARTS)
        else:
            starts = keys.select(
                pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in SERIES_KEY).fill_null(True)
            ).to_series()
        firsts = keys.filter(starts)
        ids = [self._id(key) for key in zip(*(firsts.get_column(c).to_list() for c in SERIES_KEY), strict=True)]
        self.met.update(ids)
        run = starts.cum_sum().cast(pl.Int64) - 1
        return pl.Series("series_id", ids, dtype=pl.Int64).gather(run)

    def _id(self, key: tuple[str, str]) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = self.next_id
            self.new.append((found, *key))
            self.next_id += 1
        return found

    def write_new(self, con: duckdb.DuckDBPyConnection) -> None:
        """List the series numbered since the last call in `series_keys`, in the writer's transaction."""
        if not self.new:
            return
        numbered = pl.DataFrame(self.new, schema=["series_id", *SERIES_KEY], orient="row")
        self.new = []
        # Through the Arrow stream interface: a polars frame or pyarrow table handed over as such would have DuckDB
        # import pyarrow's dataset module (see octracker.store.history.handed_to_duckdb), and a list given as a
        # parameter is converted value by value (1.2-1.5 s for the 4,000 series of a stage of 1M rows).
        con.register("_new_series", numbered.__arrow_c_stream__())
        try:
            con.execute("INSERT INTO series_keys (series_id, indicator_id, geo) SELECT * FROM _new_series")
        finally:
            con.unregister("_new_series")


#: Up to this many rows, a write asks the warehouse for the ids of their series only; more, it reads every series
#: known into a dictionary. 100 corrections of a 10M-row table, in nearly every indicator, read the 20,000 series of
#: their indicators into a dictionary for their 100 (8-10 ms). The CBS-like 10M-row table's daily edition, 100,645
#: revised rows of 91,614 of its 500,000 series: 0.11 s asked, 0.31-0.33 s read whole (3 runs each, quiet machine).
#: A first load reads every series known once, whatever its rows (see history.insert_first_versions).
ASKED_KEYS_ROWS = 200_000


def with_series_ids(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the `series_id` of each row, the series not known yet listed in `series_keys` now (in the
    writer's transaction)."""
    if "series_id" in frame.columns:
        return frame
    # Up to ASKED_KEYS_ROWS rows: the ids of their series only.
    asked = frame.height <= ASKED_KEYS_ROWS
    keys = frame.select(pl.col(c).cast(pl.String) for c in SERIES_KEY).unique() if asked else None
    ids = SeriesIds.read(con, keys)
    frame = frame.with_columns(ids.of(frame))
    ids.write_new(con)
    return frame
