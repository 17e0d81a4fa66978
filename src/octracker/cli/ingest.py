"""`octracker ingest PATH ...`: ingest files now, exactly as if they had been dropped in the inbox."""

from __future__ import annotations

from pathlib import Path

import click

from octracker.cli.refresh import print_results
from octracker.content.documents import refuse_oversize
from octracker.errors import InputRefused
from octracker.extract.inbox_routing import INBOX_KINDS
from octracker.load.inbox import IngestOverrides
from octracker.load.pipeline import ingest_files


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(sorted(INBOX_KINDS)),
    default=None,
    help="What the files are (overrides the sidecar; default: the sidecar's kind, else detected).",
)
@click.option(
    "--edition",
    type=click.IntRange(1990, 2100),
    default=None,
    help="Index edition (year) of an oci_profile or oci_wide file (overrides the sidecar).",
)
@click.option(
    "--published",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Publication date YYYY-MM-DD (overrides the sidecar).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the per-file summary as JSON.")
@click.pass_obj
def ingest_command(
    app, paths: tuple[Path, ...], kind: str | None, edition: int | None, published, as_json: bool
) -> None:
    """Ingest PATHS now, exactly as if they had been dropped in the inbox.

    Each file (with its `<file>.meta.toml` sidecar, if any) is copied into the inbox, routed by kind,
    loaded whole or refused whole, then kept in inbox/archive/ (loaded) or inbox/quarantine/ (refused).
    The same file with the same metadata twice is reported unchanged. Exit 2 if any file was refused.
    """
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputRefused(f"no such file: {', '.join(missing)}; nothing was ingested")
    for path in paths:
        try:
            refuse_oversize(path)  # before anything is copied or the warehouse opened
        except InputRefused as exc:
            raise InputRefused(f"{exc}; nothing was ingested") from None
    overrides = IngestOverrides(kind=kind, edition=edition, published=published.date() if published else None)
    print_results(app, ingest_files(app.settings, list(paths), overrides, trigger="manual", stage=True), as_json)


COMMANDS = [ingest_command]
