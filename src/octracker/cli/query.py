"""`octracker sql` and `octracker summary`: read the published warehouse."""

from __future__ import annotations

import os
import re
import sys

import click

from octracker.cli.output import echo_rows, format_option, print_rows, showing_line
from octracker.store.query import relation_exists, run_query, timeout_from_env


@click.command("sql")
@click.argument("query")
@format_option
@click.pass_obj
def sql_command(app, query: str, fmt: str) -> None:
    """Run one read-only QUERY against the published warehouse (`-` reads it from stdin).

    Only queries run (SELECT, FROM, WITH, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN): COPY, EXPORT,
    ATTACH, SET, CALL and every writing statement are refused, and the connection is read-only and
    locked: it cannot read files outside the warehouse, install or load extensions, or change these
    settings. A query may use at most 2GB of memory (and 1GB more while planning), 64 KiB of text,
    and OCTRACKER_SQL_TIMEOUT seconds (default 30). A refused or stopped query prints `Error: ...`
    and exits 2.

    Example: octracker sql "SELECT * FROM series WHERE geo = 'BE' LIMIT 5"
    """
    if query == "-":
        query = sys.stdin.read()
    timeout_s = timeout_from_env(os.environ)
    columns, rows = run_query(app.settings.read_target, query, timeout_s=timeout_s)
    if fmt == "table":
        print_rows(app.out, columns, rows, fmt)
    else:
        echo_rows(columns, rows, fmt)
    if not rows:
        hint_near_misses(app, query)


QUOTED = re.compile(r"'((?:[^']|'')*)'")


def hint_near_misses(app, query: str) -> None:
    """No rows and a quoted name close to an indicator id: say which id was probably meant (on stderr)."""
    literals = [m.replace("''", "'") for m in QUOTED.findall(query)]
    if not literals:
        return
    catalog_path = app.settings.schemas_dir / "indicators.toml"
    if not catalog_path.is_file():
        return
    from octracker.content.catalog import load_catalog

    catalog = load_catalog(catalog_path)
    for literal in literals:
        if literal in catalog or not re.fullmatch(r"[a-z0-9_.]{3,80}", literal):
            continue
        close = [c for c in catalog.suggest(literal) if c != literal]
        if close:
            app.err.print(f"No rows; {catalog.unknown(literal)}", style="yellow", markup=False, highlight=False)


#: Summary sections: title, relation, columns, filter, order, rows shown, how to see them all, and whether the
#: list keeps to the places alerts follow (`places` in schemas/alert_rules.toml): tables of every country are
#: loaded for ranks and comparison, and their largest moves elsewhere would crowd out Belgium's and the
#: Netherlands'. `{places}` in the filter and the command stands for that condition.
SUMMARY_SECTIONS: list[tuple[str, str, str, str, str, int, str, bool]] = [
    (
        "Largest year-over-year changes",
        "yoy_changes",
        "indicator_id, geo, year, prev_value, value, change, pct_change, basis",
        "WHERE comparable{places}",
        "ORDER BY abs(pct_change) DESC NULLS LAST, indicator_id, geo, year",
        10,
        'octracker sql "SELECT * FROM yoy_changes{where} ORDER BY abs(pct_change) DESC"',
        True,
    ),
    (
        "Largest moves between index editions",
        "edition_changes",
        "indicator_id, geo, year, prev_year, prev_value, value, change",
        "WHERE change IS NOT NULL{places}",
        "ORDER BY abs(change) DESC, indicator_id, geo, year",
        10,
        'octracker sql "SELECT * FROM edition_changes{where} ORDER BY abs(change) DESC"',
        True,
    ),
    (
        "Open trend alerts",
        "trend_alerts",
        "severity, geo, indicator_id, year, rule",
        "",
        "ORDER BY severity_rank DESC, rule, indicator_id, geo",
        10,
        "octracker alerts",
        False,
    ),
]
#: The series table: one row per family (a publisher's native series, the index, each curated indicator).
SERIES_SQL = (
    "SELECT split_part(indicator_id, '.', 1) AS family, COUNT(DISTINCT indicator_id) AS indicators, "
    "LIST(DISTINCT geo ORDER BY geo) AS geos, COUNT(*) AS values, MIN(year) AS first_year, "
    "MAX(year) AS last_year FROM series GROUP BY ALL ORDER BY family"
)
#: A family in this many geographies or fewer lists them; one in more gives their number.
GEOS_LISTED = 4
#: The countries octracker follows first (the report's headline countries): named when a family holds them.
HEADLINE_GEOS = ("BE", "NL")


def geos_cell(geos: list[str]) -> str:
    """The geographies of one family: all of them when few, else their number and the headline ones among them."""
    if len(geos) <= GEOS_LISTED:
        return ", ".join(geos)
    headline = [g for g in HEADLINE_GEOS if g in geos]
    return f"{len(geos)}, incl. {', '.join(headline)}" if headline else str(len(geos))


@click.command("summary")
@click.pass_obj
def summary_command(app) -> None:
    """Print a summary of series, the largest changes and the open alerts; each cut list says how to see it all."""
    path = app.settings.read_target
    if relation_exists(path, "series"):
        names, rows = run_query(path, SERIES_SQL)
        rows = [(family, indicators, geos_cell(geos), *rest) for family, indicators, geos, *rest in rows]
        print_rows(app.out, names, rows, "table", title="Series (series)", readable=True)
    places = followed_places(path)
    condition = " OR ".join(f"starts_with(geo, '{p}')" for p in places)
    for title, relation, columns, where, order, limit, see_all, by_place in SUMMARY_SECTIONS:
        if not relation_exists(path, relation):
            continue
        if by_place and places:
            title = f"{title} in {', '.join(places)}"
            where = where.format(places=f" AND ({condition})")
            see_all = see_all.format(where=f" WHERE {condition}")
        else:
            where, see_all = where.format(places=""), see_all.format(where="")
        names, rows = run_query(path, f"SELECT {columns} FROM {relation} {where} {order} LIMIT ?", [limit])
        _, [(total,)] = run_query(path, f"SELECT COUNT(*) FROM {relation} {where}")
        print_rows(app.out, names, rows, "table", title=f"{title} ({relation})", readable=True)
        line = showing_line(len(rows), total, "rows", see_all)
        if line:
            app.out.print(line, markup=False, highlight=False)


def followed_places(path) -> list[str]:
    """The places alerts are raised for (geo ids or their starts, checked when the rules file is read)."""
    if not relation_exists(path, "alert_places"):
        return []
    from octracker.content.alert_rules import PLACE_ID

    _, rows = run_query(path, "SELECT place FROM alert_places ORDER BY place")
    # Written into the SQL the summary prints for pasting: only ids of the checked form get there.
    return [place for (place,) in rows if PLACE_ID.match(place)]


COMMANDS = [sql_command, summary_command]
