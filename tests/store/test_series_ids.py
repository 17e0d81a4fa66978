"""A write finds its series' ids the same way whether it asks for its own series (up to ASKED_KEYS_ROWS rows) or reads
every series known: the known keep their ids, the new are numbered after the largest, in the order first met."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from octracker.store import series_keys
from octracker.store.series_keys import with_series_ids


def _ids(monkeypatch: pytest.MonkeyPatch, asked_up_to: int) -> tuple[list[int], list[tuple[int, str, str]]]:
    monkeypatch.setattr(series_keys, "ASKED_KEYS_ROWS", asked_up_to)
    con = duckdb.connect()
    con.execute("CREATE TABLE series_keys (series_id BIGINT, indicator_id VARCHAR, geo VARCHAR)")
    con.execute("INSERT INTO series_keys VALUES (1, 'homicides', 'NL'), (2, 'homicides', 'BE'), (5, 'shootings', 'NL')")
    frame = pl.DataFrame(
        {
            "indicator_id": ["homicides", "homicides", "thefts", "thefts", "shootings", "arson", "homicides"],
            "geo": ["BE", "BE", "NL", "NL", "NL", "BE", "NL"],
        }
    )
    ids = with_series_ids(con, frame).get_column("series_id").to_list()
    return ids, con.execute("SELECT * FROM series_keys ORDER BY series_id").fetchall()


def test_asking_for_the_series_of_the_rows_gives_the_ids_a_whole_read_gives(monkeypatch):
    asked = _ids(monkeypatch, asked_up_to=7)
    whole = _ids(monkeypatch, asked_up_to=6)

    assert asked == whole
    assert asked[0] == [2, 2, 6, 6, 5, 7, 1]
    assert asked[1][-2:] == [(6, "thefts", "NL"), (7, "arson", "BE")]
