"""`octracker sql` and `octracker summary`: read the published warehouse."""

from __future__ import annotations

import os
import sys

import click

from octracker.cli.output import FORMATS, print_rows
from octracker.store.query import relation_exists, run_query, timeout_from_env


@click.command("sql")
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format: an aligned table for people, CSV or JSON for programs.",
)
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
    print_rows(app.out, columns, rows, fmt)


SUMMARY_QUERIES = [
    (
        "Series",
        "series",
        "SELECT split_part(indicator_id, '.', 1) AS family, geo, COUNT(DISTINCT indicator_id) AS indicators, "
        "COUNT(*) AS values, MIN(year) AS first_year, MAX(year) AS last_year FROM series "
        "GROUP BY ALL ORDER BY family, geo",
    ),
    (
        "Largest year-over-year changes",
        "yoy_changes",
        "SELECT indicator_id, geo, year, value, basis, annualized_value, prev_value, change, pct_change "
        "FROM yoy_changes "
        "WHERE comparable ORDER BY abs(pct_change) DESC NULLS LAST LIMIT 10",
    ),
    (
        "Largest moves between index editions",
        "edition_changes",
        "SELECT indicator_id, geo, year, prev_year, value, prev_value, change, change_per_year FROM edition_changes "
        "WHERE change IS NOT NULL ORDER BY abs(change) DESC, indicator_id, geo LIMIT 10",
    ),
    (
        "Open trend alerts",
        "trend_alerts",
        "SELECT severity, rule, indicator_id, geo, year, message FROM trend_alerts "
        "ORDER BY severity_rank DESC, rule, indicator_id, geo LIMIT 20",
    ),
]


@click.command("summary")
@click.pass_obj
def summary_command(app) -> None:
    """Print a summary of series, year-over-year changes and open alerts."""
    path = app.settings.read_target
    for title, relation, sql in SUMMARY_QUERIES:
        if not relation_exists(path, relation):
            continue
        columns, rows = run_query(path, sql)
        print_rows(app.out, columns, rows, "table", title=f"{title} ({relation})")


COMMANDS = [sql_command, summary_command]
