"""`octracker status`: sources, last runs, row counts and quarantine at a glance."""

from __future__ import annotations

import click

from octracker.cli.output import print_rows
from octracker.query import run_query

STATUS_QUERIES = [
    ("Last run per pipeline",
     "SELECT pipeline, status, finished_at, rows_new, rows_revised, rows_unchanged, rows_quarantined, error "
     "FROM runs QUALIFY ROW_NUMBER() OVER (PARTITION BY pipeline ORDER BY started_at DESC) = 1 "
     "ORDER BY pipeline"),
    ("Sources",
     "SELECT s.source_id, s.kind, s.published_on, s.published_precision, s.precedence, "
     "COUNT(o.source_id) AS observations FROM sources s LEFT JOIN observations o USING (source_id) "
     "GROUP BY ALL ORDER BY s.source_id"),
    ("Quarantine (newest first)",
     "SELECT pipeline, file_name, line_no, check_name, reason, quarantined_at FROM quarantine "
     "ORDER BY quarantined_at DESC LIMIT 10"),
]


@click.command("status")
@click.pass_obj
def status_command(app) -> None:
    """Show pipelines' last runs, sources with their row counts, and the newest quarantined rows."""
    for title, sql in STATUS_QUERIES:
        columns, rows = run_query(app.settings.read_target, sql)
        print_rows(app.out, columns, rows, "table", title=title)


COMMANDS = [status_command]
