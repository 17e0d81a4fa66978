"""The stored findings of many series, computed in parts in one transaction, are not held in memory until it commits.

A first load's final transaction stores the findings of every series it loaded, in parts (see
`octracker.store.findings.series_per_part`), under a memory bound of 256MB (see `octracker.store.staging`). Inserted in
no order, each part's findings stayed in DuckDB's memory until the commit, the parts before piling up: the first load of
a 5M-row neighbourhood table ran out of memory there and was run again under a larger bound, and one of 6M rows failed
under that one too. Inserted in order, DuckDB writes them to the file as its row groups fill.
"""

from __future__ import annotations

import pytest

from annual_rows import load_into_new_warehouse, place_series
from octracker.store import findings
from octracker.store.warehouse import open_writer
from octracker.store.writers import forget_owed_work, write_transaction

pytestmark = pytest.mark.slow

#: Places, each one series of four annual values of a catalog indicator: about three findings each (the latest value,
#: its change from the year before, an outlier or a record), 300,000 in all, computed in parts of 10,000 series.
PLACES, YEARS, PER_PART = 100_000, 4, 10_000


def held_in_memory(con) -> float:
    """MiB of tables DuckDB holds in memory: a transaction's rows not yet written to the file, and temporary tables."""
    return con.execute(
        "SELECT COALESCE(SUM(memory_usage_bytes), 0) / 2 ^ 20 FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'"
    ).fetchone()[0]


def test_the_findings_of_many_series_stored_in_parts_are_written_out_as_they_come(settings, catalog, monkeypatch):
    frame = place_series(PLACES, YEARS, geo_prefix="NL-G")
    monkeypatch.setattr(findings, "SERIES_PER_PART", PER_PART)
    monkeypatch.setattr(findings, "BOUNDED_SERIES_PER_PART", PER_PART)
    monkeypatch.setattr(findings, "MANY_SERIES", PER_PART)
    with open_writer(settings) as con:
        load = load_into_new_warehouse(con, settings, catalog, frame, places=("NL",))
        write_transaction(con, load, what="the first load")  # its findings stored in one part, before it commits
        stored = con.execute(f"SELECT COUNT(*), SUM(hash(f)::HUGEINT) FROM {findings.TABLE} AS f").fetchone()
        con.execute("BEGIN TRANSACTION")
        before = held_in_memory(con)
        # Every series' findings stored again, as a first load's final transaction stores those of the series loaded.
        findings.series_changed(con, "SELECT indicator_id, geo, 'stats' AS source_id FROM series_keys")
        findings.settle_findings(con)
        forget_owed_work(con)
        held = held_in_memory(con) - before
        again = con.execute(f"SELECT COUNT(*), SUM(hash(f)::HUGEINT) FROM {findings.TABLE} AS f").fetchone()
        con.execute("COMMIT")
    # The same findings as the load stored, stored again in 10 parts.
    assert stored[0] > 250_000
    assert again == stored
    # About a row group of them (122,880 rows) in memory, 110 MiB: inserted in no order, every part's stayed (530 MiB).
    assert held < 300, f"{held:.0f} MiB of the transaction's findings held in memory"
