"""DuckLake targets: the warehouse with its catalog in PostgreSQL (or a local catalog file) and its data in Parquet.

A target is written `ducklake:postgres:[LIBPQ]` or `ducklake:PATH.ducklake` wherever a warehouse file is
accepted (`--warehouse`, `OCTRACKER_WAREHOUSE`). The DuckLake and PostgreSQL extensions come from the
`octracker[lake]` wheels and are installed from those files, never downloaded, into an extension directory of
this Python environment's own (not the `~/.duckdb` that every environment and DuckDB program of the user shares).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import importlib.util
import os
import re
import sys
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

import duckdb

from octracker.errors import OctrackerError, UsageError
from octracker.store.rows import scalar
from octracker.user_cache import user_cache_folder

LAKE_PREFIX = "ducklake:"
#: The name the lake is attached under in octracker's own connections (analysts may choose another).
LAKE_ALIAS = "lake"
LAKE_EXTRA = "pip install 'octracker[lake]'"
#: Wheel package that ships each extension, by the name DuckDB loads it under.
EXTENSION_WHEELS = {
    "ducklake": "duckdb_extension_ducklake",
    "postgres": "duckdb_extension_postgres",
    "httpfs": "duckdb_extension_httpfs",
}
#: Nothing is fetched from the network at run time: extensions come only from the wheels.
#: A DuckDB connection's settings, as `duckdb.connect(config=...)` takes them.
DuckConfig = dict[str, str | bool | int | float | list[str]]

OFFLINE_CONFIG: DuckConfig = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}
#: Data paths with one of these schemes live in object storage, read and written through httpfs.
OBJECT_STORE = re.compile(r"^(s3|s3a|gcs|gs|r2|https?)://", re.IGNORECASE)
#: S3 (or S3-compatible, via the endpoint) credentials for an object-store data path, by DuckDB secret field.
S3_ENVIRONMENT = {
    "KEY_ID": "AWS_ACCESS_KEY_ID",
    "SECRET": "AWS_SECRET_ACCESS_KEY",
    "SESSION_TOKEN": "AWS_SESSION_TOKEN",
    "REGION": "AWS_REGION",
    "ENDPOINT": "AWS_ENDPOINT_URL",
}
_PASSWORD_FIELD = re.compile(r"""\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)""", re.IGNORECASE)
_PG_ENV = (("PGHOST", "host"), ("PGPORT", "port"), ("PGUSER", "user"), ("PGDATABASE", "dbname"))


@dataclass(frozen=True)
class LakeTarget:
    """Where a DuckLake lives: its catalog database and its data path. Never holds a password in text form."""

    #: "postgres" (catalog in a PostgreSQL database) or "duckdb" (a local catalog file).
    catalog_kind: str
    #: libpq connection string without the password (postgres), or the catalog file (duckdb).
    catalog: str
    #: Directory or object-store prefix for the Parquet files; None: the one recorded in the catalog.
    data_path: str | None = None
    #: PostgreSQL schema holding the catalog tables; None: DuckLake's default.
    metadata_schema: str | None = None
    #: Given to libpq through a DuckDB secret (never in a connection string, a message or a log).
    password: str | None = field(default=None, repr=False, compare=False)
    #: The run-time file whose folder this process's DuckDB spills to, beside it (see `octracker.store.spill`): the
    #: warehouse's, as `Settings.read_target` gives it. None: beside a local catalog file, else DuckDB's default.
    spill_beside: Path | None = field(default=None, repr=False, compare=False)

    @property
    def catalog_path(self) -> Path | None:
        return Path(self.catalog) if self.catalog_kind == "duckdb" else None

    @property
    def uri(self) -> str:
        """The `ducklake:` string DuckDB attaches (password-free)."""
        return (
            f"{LAKE_PREFIX}postgres:{self.catalog}"
            if self.catalog_kind == "postgres"
            else f"{LAKE_PREFIX}{self.catalog}"
        )

    def describe(self) -> str:
        """For messages: the catalog and data path, without the password."""
        where = f"catalog {self.uri}"
        if self.metadata_schema:
            where += f" (schema {self.metadata_schema})"
        return f"DuckLake {where}" + (f", data {self.data_path}" if self.data_path else "")

    def attach_options(self, *, read_only: bool) -> list[str]:
        options = []
        if read_only:
            options.append("READ_ONLY")
        if self.data_path and not read_only:
            options.append(f"DATA_PATH {sql_literal(self.data_path)}")
        if self.metadata_schema:
            options.append(f"METADATA_SCHEMA {sql_literal(self.metadata_schema)}")
        return options

    def analyst_attach(self, alias: str = LAKE_ALIAS) -> str:
        """The statement an analyst runs in their own DuckDB to read this lake."""
        return f"ATTACH {sql_literal(self.uri)} AS {alias} ({', '.join(self.attach_options(read_only=True))})"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_lake_target(value: str | None) -> TypeGuard[str]:
    return bool(value) and str(value).startswith(LAKE_PREFIX)


def split_password(conninfo: str) -> tuple[str, str | None]:
    """A libpq string (key=value or URI) without its password, and the password."""
    if re.match(r"^postgres(ql)?://", conninfo):
        parts = urllib.parse.urlsplit(conninfo)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        password = parts.password or next((v for k, v in query if k == "password"), None)
        netloc = parts.hostname or ""
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        query = [(k, v) for k, v in query if k != "password"]
        clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, urllib.parse.urlencode(query), ""))
        return clean, (urllib.parse.unquote(password) if password else None)
    match = _PASSWORD_FIELD.search(conninfo)
    if not match:
        return conninfo.strip(), None
    value = match.group(1)
    if value.startswith("'"):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return " ".join(_PASSWORD_FIELD.sub("", conninfo).split()), value


def redact(message: str) -> str:
    """A message with any `password=…` or URI password masked."""
    message = _PASSWORD_FIELD.sub("password=***", message)
    return re.sub(r"(postgres(?:ql)?://[^:/@\s]+):[^@\s]+@", r"\1:***@", message)


def parse_lake_target(value: str, environ: Mapping[str, str], base: Path) -> LakeTarget:
    """`ducklake:postgres:[LIBPQ]` or `ducklake:PATH`, completed from the environment.

    PostgreSQL settings: LIBPQ after `postgres:`, else `OCTRACKER_LAKE_CATALOG`, else the standard
    `PGHOST/PGPORT/PGUSER/PGDATABASE` (and `PGPASSWORD` or ~/.pgpass for the password). The data path is
    `OCTRACKER_LAKE_DATA`; for a catalog file it defaults to `<catalog>.files/` beside it.
    """
    rest = value[len(LAKE_PREFIX) :]
    data_path = environ.get("OCTRACKER_LAKE_DATA") or None
    if data_path and not OBJECT_STORE.match(data_path):
        data_path = str((base / data_path).resolve()) + "/"
    schema = environ.get("OCTRACKER_LAKE_SCHEMA") or None
    if rest.startswith("postgres:"):
        conninfo = rest[len("postgres:") :].strip() or environ.get("OCTRACKER_LAKE_CATALOG", "").strip()
        if not conninfo:
            conninfo = " ".join(f"{key}={environ[var]}" for var, key in _PG_ENV if environ.get(var))
        conninfo, password = split_password(conninfo)
        password = password or environ.get("PGPASSWORD") or None
        return LakeTarget("postgres", conninfo, data_path, schema, password)
    if not rest or rest.startswith(("sqlite:", "mysql:", "quack:")):
        raise UsageError(
            f"{redact(value)}: unsupported DuckLake target; use ducklake:postgres: (catalog in PostgreSQL) "
            "or ducklake:PATH.ducklake (a local catalog file)"
        )
    catalog = (base / rest).resolve()
    return LakeTarget("duckdb", str(catalog), data_path or f"{catalog}.files/", schema)


def extension_file(name: str) -> Path:
    """The extension file inside its installed wheel, for the DuckDB version in use."""
    package = EXTENSION_WHEELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise OctrackerError(
            f"a DuckLake warehouse needs the {name} extension, which is not installed; run {LAKE_EXTRA}"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    wanted = root / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not wanted.exists():
        found = ", ".join(sorted(p.name.lstrip("v") for p in root.glob("v*"))) or "none"
        raise OctrackerError(
            f"the {name} extension wheel ({package}) is built for DuckDB {found}, but DuckDB "
            f"{duckdb.__version__} is installed; an extension loads only in the DuckDB it was built for: "
            f"run {LAKE_EXTRA} to install the matching pair"
        )
    return wanted


def extension_directory() -> Path:
    """Where this Python environment keeps the DuckDB extensions it installs from its wheels: inside the
    environment, or when that is read-only, a folder of the user's cache named after the environment.

    Not DuckDB's default `~/.duckdb`: every environment of the user shares that one, and two environments that
    each install their own wheel's copy there (several checkouts testing at once) replace it in turn, one
    loading the file while the other writes it.
    """
    inside = Path(sys.prefix) / "share" / "octracker" / "duckdb_extensions"
    environment = hashlib.sha256(str(Path(sys.prefix).resolve()).encode()).hexdigest()[:16]
    cache = user_cache_folder()
    candidates = [inside] if cache is None else [inside, cache / "duckdb_extensions" / environment]
    for directory in candidates:
        with contextlib.suppress(OSError):
            directory.mkdir(parents=True, exist_ok=True)
            (directory / ".lock").touch()
            return directory
    raise OctrackerError(
        f"no folder to install the DuckDB extensions into: {' nor '.join(map(str, candidates))} cannot be "
        "created and written; make one writable for the user running octracker (or set XDG_CACHE_HOME)"
    )


@contextlib.contextmanager
def _extension_lock(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """Processes of one environment take turns: one installs while none loads, any number load at once."""
    with open(directory / ".lock", "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


def _installed_from(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute(
        "SELECT installed_from FROM duckdb_extensions() "
        "WHERE installed AND (extension_name = ? OR list_contains(aliases, ?))",
        [name, name],
    ).fetchone()
    return row[0] if row else None


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD the extension from this environment's extension directory, installing it there from its wheel's file
    first when it is not yet (once per environment and DuckDB release)."""
    path = str(extension_file(name))
    directory = str(extension_directory())
    if con.execute("SELECT current_setting('extension_directory')").fetchone() != (directory,):
        con.execute(f"SET extension_directory = {sql_literal(directory)}")
    with _extension_lock(Path(directory), exclusive=False):
        installed = _installed_from(con, name) == path
    if not installed:
        with _extension_lock(Path(directory), exclusive=True):
            if _installed_from(con, name) != path:
                # FORCE replaces a copy installed from anywhere else (the wheel's file moved with a new environment).
                con.execute(f"FORCE INSTALL {sql_literal(path)}")
    with _extension_lock(Path(directory), exclusive=False):
        con.execute(f"LOAD {name}")


def load_lake_extensions(con: duckdb.DuckDBPyConnection, target: LakeTarget) -> None:
    load_extension(con, "ducklake")
    if target.catalog_kind == "postgres":
        load_extension(con, "postgres")


def prepare_object_store(con: duckdb.DuckDBPyConnection) -> None:
    """Data in object storage is read and written through httpfs, with credentials from the environment."""
    load_extension(con, "httpfs")
    create_store_secret(con, os.environ)


def create_store_secret(con: duckdb.DuckDBPyConnection, environ: Mapping[str, str]) -> None:
    """An S3 secret from the standard AWS_* variables, when they are set (else DuckDB reads public data only)."""
    fields = {key: environ[var] for key, var in S3_ENVIRONMENT.items() if environ.get(var)}
    if "KEY_ID" not in fields:
        return
    endpoint = fields.pop("ENDPOINT", None)
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        fields.update(ENDPOINT=host.rstrip("/"), URL_STYLE="path")
        if scheme == "http":
            fields["USE_SSL"] = "false"
    body = ", ".join(f"{key} {value if value == 'false' else sql_literal(value)}" for key, value in fields.items())
    con.execute(f"CREATE TEMPORARY SECRET octracker_lake_store (TYPE s3, {body})")


def connect_lake(
    target: LakeTarget,
    *,
    read_only: bool,
    config: DuckConfig | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and in use; unqualified names resolve in it."""
    con = duckdb.connect(config={**OFFLINE_CONFIG, **(config or {})})
    try:
        load_lake_extensions(con, target)
        if target.data_path and OBJECT_STORE.match(target.data_path):
            prepare_object_store(con)
        options = target.attach_options(read_only=read_only)
        if target.password is not None:
            con.execute(
                f"CREATE TEMPORARY SECRET octracker_lake_pg (TYPE postgres, PASSWORD {sql_literal(target.password)})"
            )
            options.append("METADATA_PARAMETERS MAP {'SECRET': 'octracker_lake_pg'}")
        if target.catalog_kind == "duckdb":
            Path(target.catalog).parent.mkdir(parents=True, exist_ok=True)
        if target.data_path and not OBJECT_STORE.match(target.data_path) and not read_only:
            Path(target.data_path).mkdir(parents=True, exist_ok=True)
        attach = f"ATTACH {sql_literal(target.uri)} AS {LAKE_ALIAS} ({', '.join(options)})"
        try:
            con.execute(attach)
        except duckdb.Error as exc:
            # A reader learns only from the catalog that the data is in object storage.
            if "requires the extension httpfs" not in str(exc):
                raise
            prepare_object_store(con)
            con.execute(attach)
        con.execute(f"USE {LAKE_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def is_lock_error(exc: duckdb.Error) -> bool:
    """Another process holds a DuckDB file (the warehouse, or a local lake catalog)."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def describe_attach_error(target: LakeTarget, exc: duckdb.Error) -> str:
    return f"{target.describe()}: cannot open the lake: {redact(str(exc).strip())}"


def published_time(con: duckdb.DuckDBPyConnection, target: Path | LakeTarget) -> dt.datetime:
    """When what a reader opened was published (UTC): the lake's last commit, or the published file's time."""
    if isinstance(target, LakeTarget):
        return last_commit_time(con)
    return dt.datetime.fromtimestamp(target.stat().st_mtime, dt.UTC)


def last_commit_time(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    """When the attached lake last committed (UTC): what a published copy's file time says for a file."""
    # Converted to naive UTC in SQL: a TIMESTAMPTZ value would need pytz in Python.
    when = scalar(con, "SELECT timezone('UTC', MAX(snapshot_time)) FROM ducklake_snapshots(?)", [LAKE_ALIAS])
    return when.replace(tzinfo=dt.UTC)


def lake_data_directory(con: duckdb.DuckDBPyConnection) -> str:
    """The data path recorded in the attached lake's catalog (where its Parquet files are)."""
    return scalar(con, "SELECT data_path FROM ducklake_settings(?)", [LAKE_ALIAS])
