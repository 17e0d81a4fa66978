"""Test helpers for lakes: is a PostgreSQL catalog server reachable, a lake's environment, CLI options per backend."""

from __future__ import annotations

import os
from pathlib import Path

from octracker.store.settings import Settings

PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD")


def lake_unavailable() -> str | None:
    """Why the lake tests cannot run here, or None when they can."""
    from octracker.errors import OctrackerError
    from octracker.store.lake import extension_file

    try:
        extension_file("ducklake")
        extension_file("postgres")
        import psycopg
    except (OctrackerError, ImportError) as exc:
        return f"the lake extra is not installed ({exc})"
    if not os.environ.get("PGHOST"):
        return (
            "no PostgreSQL server for the lake tests: set PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, e.g. "
            'eval "$(scripts/start_test_postgres.sh start)"'
        )
    try:
        with psycopg.connect("", connect_timeout=5) as con:
            con.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {os.environ.get('PGHOST')}:{os.environ.get('PGPORT', 5432)} is not reachable: {exc}"
    return None


def lake_environment(data: Path, schema: str) -> dict[str, str]:
    """The environment that makes `ducklake:postgres:` this lake: the server's PG* plus data path and schema."""
    environ = {name: os.environ[name] for name in PG_VARIABLES if name in os.environ}
    return {**environ, "OCTRACKER_LAKE_DATA": str(data), "OCTRACKER_LAKE_SCHEMA": schema}


def drop_lake_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect("", autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def cli_options(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """Global CLI options and environment that select the same project and warehouse as `settings`."""
    args = ["--project", str(settings.project)]
    lake = settings.lake
    if lake is None:
        return [*args, "--warehouse", str(settings.warehouse)], {}
    return [*args, "--warehouse", "ducklake:postgres:"], {
        "OCTRACKER_LAKE_DATA": lake.data_path or "",
        "OCTRACKER_LAKE_SCHEMA": lake.metadata_schema or "",
    }
