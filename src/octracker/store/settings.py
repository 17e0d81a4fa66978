"""Where things are: the project folder (content) and the warehouse (data), built once at the CLI edge."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from octracker.errors import UsageError
from octracker.store.lake import LakeTarget, is_lake_target, parse_lake_target

DEFAULT_WAREHOUSE = Path("warehouse") / "octracker.duckdb"
LOCK_TIMEOUT_ENV = "OCTRACKER_LOCK_TIMEOUT"


@dataclass(frozen=True)
class Settings:
    """Paths every command works from; no other global state."""

    project: Path
    warehouse: Path
    #: Seconds a writer waits for another writer to finish before giving up.
    lock_timeout_s: float = 60.0
    #: A DuckLake warehouse instead of the DuckDB file; run-time files (inbox, raw store) stay beside `warehouse`.
    lake: LakeTarget | None = None
    #: `OCTRACKER_OFFLINE=1`: no feed beyond this machine is fetched; each is reported unreachable, its last
    #: data kept (or its bundled snapshot loaded).
    offline: bool = False

    @property
    def pipelines_dir(self) -> Path:
        return self.project / "pipelines"

    @property
    def schemas_dir(self) -> Path:
        return self.project / "schemas"

    @property
    def migrations_dir(self) -> Path:
        return self.project / "warehouse" / "migrations"

    @property
    def views_dir(self) -> Path:
        return self.project / "warehouse" / "views"

    @property
    def data_dir(self) -> Path:
        """Run-time data lives beside the warehouse file: inbox, raw store, published copy."""
        return self.warehouse.parent

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def published_path(self) -> Path:
        """The read-only copy analysts open; same file name, so the catalog name is the same."""
        return self.data_dir / "published" / self.warehouse.name

    @property
    def read_target(self) -> Path | LakeTarget:
        """What readers open: the published copy of a file warehouse, or the lake itself (each commit a snapshot)."""
        if self.lake is None:
            return self.published_path
        return replace(self.lake, spill_beside=self.warehouse)  # its readers spill where its writers do


def build_settings(
    project: str | os.PathLike | None = None,
    warehouse: str | os.PathLike | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Settings:
    """Resolve flags, then environment, then defaults (warehouse default is inside the project).

    A warehouse value starting `ducklake:` is a lake (see `octracker.store.lake.parse_lake_target`); its run-time
    files live beside a local catalog file, or in the project's `warehouse/` folder for a PostgreSQL catalog.
    """
    project_path = Path(project or environ.get("OCTRACKER_PROJECT") or ".").resolve()
    warehouse_value = str(warehouse or environ.get("OCTRACKER_WAREHOUSE") or "") or None
    if is_lake_target(warehouse_value):
        lake = parse_lake_target(warehouse_value, environ, Path.cwd())
        anchor = lake.catalog_path or project_path / DEFAULT_WAREHOUSE
        return Settings(
            project=project_path,
            warehouse=anchor,
            lake=lake,
            lock_timeout_s=lock_timeout(environ),
            offline=is_offline(environ),
        )
    warehouse_path = Path(warehouse_value).resolve() if warehouse_value else project_path / DEFAULT_WAREHOUSE
    return Settings(
        project=project_path,
        warehouse=warehouse_path,
        lock_timeout_s=lock_timeout(environ),
        offline=is_offline(environ),
    )


def is_offline(environ: Mapping[str, str]) -> bool:
    """`OCTRACKER_OFFLINE` set to 1/true/yes: fetch no live feed."""
    return environ.get("OCTRACKER_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def lock_timeout(environ: Mapping[str, str]) -> float:
    """Seconds a writer waits for another: `OCTRACKER_LOCK_TIMEOUT` (0 refuses at once), else the default."""
    value = environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not value:
        return Settings.lock_timeout_s
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise UsageError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds (0 or more), not {value!r}")
    return seconds
