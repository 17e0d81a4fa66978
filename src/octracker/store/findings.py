"""The alert checks' results, stored by the writer with the data they come from.

The `alert_findings` view computes every check (year-over-year and edition changes, records, conflicts,
outliers, revisions, staleness); planning and running it took DuckDB 0.2-0.3 s on the bundled data and seconds
on ten million rows, which each `alerts` and `status` paid. The writer stores its rows in `stored_alert_findings`
before a transaction that changed what the checks read commits, so a reader sees findings and data of the same
commit, and `trend_alerts` reads the table.

A write says what it changed: values of some series (`series_changed`: their findings are computed again, and
only theirs, since every check reads one series), a source's record (`source_changed`: precedence and publication
dates rank the periods several sources state, and date revisions), or what every finding depends on
(`findings_inputs_changed`: the catalog, the places alerts follow, the views). What is owed is collected in a
temporary table over the transaction and settled once, before it commits.
"""

from __future__ import annotations

import contextlib
from typing import Any

import duckdb

from octracker.store.rows import one_row, scalar
from octracker.store.writers import before_commit

#: The table the writer stores the findings in (migration 0017).
TABLE = "stored_alert_findings"
#: What the open transaction owes: (indicator_id, geo, source_id) of changed values; (NULL, NULL, source) for a
#: source's record; (NULL, NULL, NULL) for every finding.
OWED = "_findings_owed"
#: The series whose findings are stored again, with their ids (see `_store_owed_series`).
OWED_SERIES = "_findings_owed_series"


def findings_inputs_changed(con: duckdb.DuckDBPyConnection) -> None:
    """The write open on `con` changed what every finding depends on (the catalog's indicators, alert_places, the
    views): every finding is stored again before it commits."""
    _owe(con, "SELECT NULL, NULL, NULL")


def series_changed(con: duckdb.DuckDBPyConnection, rows: str, params: list[Any] | None = None) -> None:
    """The write open on `con` added, revised or closed the values `rows` selects (a relation with indicator_id,
    geo and source_id, read now): the findings of their series are stored again before it commits, and those of
    revisions by the same sources (a revision finding is about its source's latest update)."""
    _owe(con, f"SELECT DISTINCT indicator_id, geo, source_id FROM ({rows})", params)


def source_changed(con: duckdb.DuckDBPyConnection, source_id: str) -> None:
    """The write open on `con` changed a source's record: the series whose values sources compete for
    (multi_source_periods) and the source's revision findings are stored again before it commits."""
    _owe(con, "SELECT NULL, NULL, ?", [source_id])


def _owe(con: duckdb.DuckDBPyConnection, rows: str, params: list[Any] | None = None) -> None:
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {OWED} (indicator_id VARCHAR, geo VARCHAR, source_id VARCHAR)")
    con.execute(f"INSERT INTO {OWED} {rows}", params or [])
    before_commit(con, "alert findings", lambda: settle_findings(con))


def settle_findings(con: duckdb.DuckDBPyConnection) -> None:
    """Store the findings the open transaction owes (see `_owe`), in it."""
    try:
        _store_owed(con)
    except BaseException:
        # A failed statement has aborted the transaction, which refuses every statement until its writer rolls it
        # back (and the list owed with it): dropping the list here would fail too, and put "Current transaction is
        # aborted" in the place of the error that aborted it.
        with contextlib.suppress(duckdb.Error):
            _drop_owed(con)
        raise
    _drop_owed(con)


def _drop_owed(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {OWED}")
    con.execute(f"DROP TABLE IF EXISTS {OWED_SERIES}")


def _store_owed(con: duckdb.DuckDBPyConnection) -> None:
    # A project may do without the alert views (alert_findings and its macro come from one view file).
    if not scalar(con, "SELECT EXISTS (SELECT 1 FROM duckdb_views() WHERE view_name = 'alert_findings')"):
        return
    if scalar(con, f"SELECT bool_or(source_id IS NULL AND geo IS NULL) FROM {OWED}"):
        store_alert_findings(con)
    else:
        _store_owed_series(con)


def store_alert_findings(con: duckdb.DuckDBPyConnection) -> int:
    """Replace every stored finding with what the checks compute now, in the caller's transaction; the number of
    findings. A warehouse without observations has none (nothing is computed: a new warehouse's first steps)."""
    con.execute(f"DELETE FROM {TABLE}")
    if not scalar(con, "SELECT EXISTS (SELECT 1 FROM observation_history)"):
        return 0
    if not scalar(con, "SELECT EXISTS (SELECT 1 FROM followed_geos)"):
        return 0
    # The places as constants reach the table scans, where a join with followed_geos would not; the places, not
    # their geos: one pattern matched per row read, where a list is searched geo by geo (see series_among).
    places = scalar(con, "SELECT list(place ORDER BY place) FROM alert_places")
    return scalar(con, f"INSERT INTO {TABLE} BY NAME SELECT * FROM alert_findings_in(NULL, NULL, NULL, ?)", [places])


#: Up to this many series owed, or this share of the series of the geos and indicators owed, the series owed are
#: computed alone, found by their ids (migration 0020); more, up to MANY_SERIES, are computed with every series
#: of those geos and indicators, found by them as every check reads them (see stored_versions_in and series_among).
#: On a 1M-row neighbourhood table of 50,000 series, its daily edition's 9,206 took 0.7 s of CPU by id, 20,000 1.3 s
#: and all 2.2 s, where their geos and indicators took 1.7-2.2 s whatever was owed: the ids are worth it up to about
#: three quarters of the series.
FEW_SERIES, FEW_SERIES_SHARE = 4096, 0.5

#: More series owed than this are computed by id whatever their share, in parts (SERIES_PER_PART): all of them at once
#: outgrew the memory a load's final transaction may use, and DuckDB spilled. The first load of a 10M-row
#: neighbourhood table, whose 500,000 series alerts all follow: 110-113 s of CPU all at once (by id or by geos and
#: indicators alike), 79-86 s in parts of 50,000 to 250,000; of a 3M-row one, 29.5 s by geos and indicators, 18.7 s
#: by id at once, 15.8 s in parts (one run each, load 3-8).
MANY_SERIES = 100_000

#: Series owed computed by id are computed in parts of this many, in the order of their ids: a series' id follows the
#: order a load first meets it, so a part's versions sit together and the scans skip the row groups of the others. A
#: part's working set grows with its series (hash tables of their versions, and the findings inserted, which DuckDB
#: keeps in memory under the writer's own bound), and each part costs a plan and scans of its own. The CBS-like
#: 10M-row table's daily edition owes 91,614 series: in parts of 25,000 it took 5.53-5.89 s and peaked at 1.40-1.42
#: GiB, of 50,000 5.15-5.20 s and 1.70-1.72 GiB, in one part of 100,000 4.98-5.17 s and 2.17-2.19 GiB (in turn,
#: quiet machine). A transaction bounded below 1 GiB takes BOUNDED_SERIES_PER_PART instead.
SERIES_PER_PART = 50_000

#: Parts under a memory bound below 1 GiB: the final transaction of a first load in stages (256MB, see
#: octracker.store.staging), which spills sooner. That table's first load, whose 500,000 series alerts all follow:
#: 16.5-17.3 s in parts of 25,000, 18.4-19.3 s in parts of 50,000 (3 runs each, quiet machine).
BOUNDED_SERIES_PER_PART = 25_000


def _store_owed_series(con: duckdb.DuckDBPyConnection) -> None:
    """Store again the findings of the series owed: changed values' series, the series of the periods several
    sources state when a source's record changed, and the series of revision findings by a source written."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {OWED_SERIES} AS
        WITH owed AS (
            SELECT indicator_id, geo FROM {OWED} WHERE indicator_id IS NOT NULL
            UNION
            SELECT m.indicator_id, m.geo FROM multi_source_periods AS m
            WHERE EXISTS (SELECT 1 FROM {OWED} WHERE indicator_id IS NULL)
            UNION
            SELECT f.indicator_id, f.geo FROM {TABLE} AS f
            WHERE f.check_name = 'revision' AND f.source_ids[1] IN (SELECT source_id FROM {OWED})
        )
        -- Only catalog indicators in the places alerts follow have findings (followed_geos lists the same places,
        -- but only geos with current values: a series retracted whole must have its findings cleared too).
        SELECT k.series_id, o.indicator_id, o.geo
        FROM owed AS o
        JOIN series_keys AS k USING (indicator_id, geo)
        WHERE o.indicator_id IN (SELECT indicator_id FROM indicators) AND geo_followed(o.geo)
        """
    )
    owed = scalar(con, f"SELECT COUNT(*) FROM {OWED_SERIES}")
    if not owed:
        return
    if owed <= FEW_SERIES or owed > MANY_SERIES or owed <= FEW_SERIES_SHARE * _in_scope(con):
        # These series alone are computed again, their versions found by id (see stored_versions_in): a daily
        # edition of a neighbourhood table revises values of a fifth of its series, in nearly every geo and indicator.
        # Up to FEW_SERIES ids reach the checks as a value, and their scans skip the row groups that hold none of
        # them (see stored_versions_in); a query's list is known only as the query runs, every part of the macro is
        # planned, and each scan reads every row group (the findings of a small change's 2 series into a 10M-row
        # history: 0.65 s of CPU against 0.08-0.40 s). More reach them as a query of the table that holds them: a
        # value is repeated into each of the checks' many reads of the versions, about 0.15 ms of CPU per id (the
        # findings of that edition's 9,206 series took 2.3 s of CPU, 0.8 s so), and many are computed in parts
        # (see MANY_SERIES and SERIES_PER_PART).
        con.execute(
            f"DELETE FROM {TABLE} AS f WHERE EXISTS "
            f"(SELECT 1 FROM {OWED_SERIES} AS o WHERE o.indicator_id = f.indicator_id AND o.geo = f.geo)"
        )
        # With the ids, whether any of these series is of an annual or a biennial indicator or in
        # multi_source_periods: the checks those decide are left out otherwise (see alert_findings_among), which saves
        # planning them, a cost of every statement that a few series' findings feel, and running them, which the parts
        # of a first load feel (a CBS-like table's 500,000 series, none biennial nor of several sources).
        ids, *checks = one_row(
            con,
            f"""
            SELECT CASE WHEN count(*) <= ? THEN list(o.series_id ORDER BY o.series_id) END,
                   COALESCE(bool_or(i.frequency = 'annual'), false),
                   COALESCE(bool_or(i.frequency = 'biennial'), false),
                   EXISTS (SELECT 1 FROM multi_source_periods SEMI JOIN {OWED_SERIES} USING (indicator_id, geo))
            FROM {OWED_SERIES} AS o
            LEFT JOIN indicators AS i USING (indicator_id)
            """,
            [FEW_SERIES],
        )
        if owed <= FEW_SERIES:
            con.execute(
                f"INSERT INTO {TABLE} BY NAME SELECT * FROM alert_findings_among(?, NULL, NULL, NULL, ?, ?, ?)",
                [ids, *checks],
            )
            return
        # Each part's findings are inserted in order (the alert_findings view's): DuckDB then writes them to the file
        # as its row groups fill. Inserted in no order, every part's findings stayed in memory until the transaction
        # committed (660 MiB after 1.2M of the 1.5M findings of a 10M-row neighbourhood table), and the first load of
        # such a table ran out of memory in its final transaction under its 256MB bound (see octracker.store.staging);
        # sorted, 25-115 MiB of them are held, and sorting a part's findings costs next to nothing.
        for first, last in _parts(con):
            con.execute(
                f"INSERT INTO {TABLE} BY NAME SELECT * FROM alert_findings_among("
                f"(SELECT list(series_id) FROM {OWED_SERIES} WHERE series_id BETWEEN ? AND ?), "
                "NULL, NULL, NULL, ?, ?, ?) ORDER BY check_name, indicator_id, geo, period_start",
                [first, last, *checks],
            )
        return
    # Every series of these indicators in these places is computed again (a few more than owed, never fewer). The
    # geos and indicators are looked up in a hash table, here and by every check (see series_among): searching a
    # list for each row read cost rows x geos, when a daily edition of a neighbourhood table owes thousands.
    geos, indicator_ids = one_row(
        con,
        f"SELECT list(DISTINCT geo ORDER BY geo), list(DISTINCT indicator_id ORDER BY indicator_id) FROM {OWED_SERIES}",
    )
    con.execute(
        f"DELETE FROM {TABLE} WHERE geo IN (SELECT unnest(?)) AND indicator_id IN (SELECT unnest(?))",
        [geos, indicator_ids],
    )
    con.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM alert_findings_in(NULL, ?, ?, NULL)", [geos, indicator_ids])


def _in_scope(con: duckdb.DuckDBPyConnection) -> int:
    """How many series the geos and indicators of the series owed hold."""
    return scalar(
        con,
        f"SELECT COUNT(*) FROM series_keys WHERE geo IN (SELECT geo FROM {OWED_SERIES}) "
        f"AND indicator_id IN (SELECT indicator_id FROM {OWED_SERIES})",
    )


def series_per_part(con: duckdb.DuckDBPyConnection) -> int:
    """The series of a part (see SERIES_PER_PART) under the memory bound `con`'s transaction has now. DuckDB names a
    bound in the largest binary unit under it ('244.1 MiB', '3.7 GiB')."""
    unit = str(scalar(con, "SELECT current_setting('memory_limit')")).split()[-1]
    return SERIES_PER_PART if unit in ("GiB", "TiB", "PiB", "EiB") else BOUNDED_SERIES_PER_PART


def _parts(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """The first and last id of each part of the series owed (see series_per_part)."""
    return con.execute(
        f"""
        SELECT min(series_id), max(series_id)
        FROM (SELECT series_id, (row_number() OVER (ORDER BY series_id) - 1) // ? AS part FROM {OWED_SERIES})
        GROUP BY part ORDER BY part
        """,
        [series_per_part(con)],
    ).fetchall()
