"""Shared fixtures: the real project content, a warehouse per test (a file, or a lake), and scratch projects.

A test module that sets `pytestmark = pytest.mark.usefixtures("backend")` runs each of its tests on every
backend chosen with `--backend` (default: both): `file` (the embedded DuckDB file) and `lake` (DuckLake with
its catalog in the PostgreSQL server named by the PG* variables; `scripts/start_test_postgres.sh` starts one).
Its `settings` and `scratch_project` fixtures then point at that backend.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import hypothesis
import pytest
from click.testing import CliRunner

from lakes import cli_options, drop_lake_schema, lake_environment, lake_unavailable
from octracker.cli import main
from octracker.content.catalog import load_catalog
from octracker.httpclient import new_client
from octracker.store.findings import store_alert_findings
from octracker.store.settings import Settings, build_settings
from octracker.store.warehouse import apply_migrations, apply_views, open_reader, open_writer

#: No test reaches past 127.0.0.1: a feed of the real project (Eurostat, CBS) is reported unreachable and its
#: bundled snapshot loaded, in this process (settings built with any environment) and in the commands it starts.
os.environ["OCTRACKER_OFFLINE"] = "1"
_offline = pytest.MonkeyPatch()
_offline.setattr("octracker.store.settings.is_offline", lambda environ: True)

#: The commands' output is read as piped output (whole rows up to 200 characters), whatever terminal runs the suite:
#: pytest imports readline, which writes its terminal's size (80x24 without one) as LINES and COLUMNS into the
#: environment that processes started from it inherit (CPython gh-46927), so `make test`'s workers (pytest-xdist)
#: would see COLUMNS=80 and wrap the commands' output there.
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)

#: The suite keeps what octracker caches (templates of new warehouses, parsed TOML files) in a cache folder of its own,
#: in this process and the commands it starts, removed when it ends: its many catalogs and schemas would otherwise each
#: leave a template in the user's cache and push out those of the user's projects (the most recent are kept).
_test_cache = tempfile.mkdtemp(prefix="octracker-test-cache-")
os.environ["XDG_CACHE_HOME"] = _test_cache
atexit.register(shutil.rmtree, _test_cache, ignore_errors=True)

#: Property tests judge the code, not the machine: Hypothesis's deadline of 200 ms an example and its check that data
#: generation is not too slow fail on a busy machine (CI runs on 2 loaded cores) without a defect.
hypothesis.settings.register_profile(
    "octracker", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("octracker")

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = REPO / "pipelines" / "documents"
BACKENDS = ("file", "lake")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=[*BACKENDS, "all"],
        default="all",
        help="warehouse backend(s) for the tests that run on each (default: all)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "one_backend: touches no warehouse backend; runs once, on the file")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend")
        backends = list(BACKENDS) if chosen == "all" else [chosen]
        if metafunc.definition.get_closest_marker("one_backend"):
            backends = ["file"]
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(scope="session")
def lake_server(request) -> None:
    """The lake tests need PostgreSQL and the `lake` extra; CI (OCTRACKER_REQUIRE_LAKE_TESTS=1) fails without them."""
    if request.config.getoption("backend") == "file":
        pytest.skip("--backend file: the lake tests are not selected")
    reason = lake_unavailable()
    if reason:
        if os.environ.get("OCTRACKER_REQUIRE_LAKE_TESTS"):
            pytest.fail(f"lake tests required but {reason}")
        pytest.skip(reason)


@pytest.fixture
def backend(request) -> str:
    if request.param == "lake":
        request.getfixturevalue("lake_server")
    return request.param


def on_backend(request, project: Path, tmp_path: Path, file_warehouse: Path) -> Settings:
    """Settings for the test's backend: the given warehouse file, or a fresh lake of its own."""
    backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else "file"
    if backend == "file":
        return build_settings(project=project, warehouse=file_warehouse, environ={})
    return new_lake_settings(request, project, tmp_path)


def new_lake_settings(request, project: Path, tmp_path: Path) -> Settings:
    """A fresh lake of the test's own: its own catalog schema in the test server, its own data folder."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    environ = lake_environment(data=tmp_path / "lake", schema=schema)
    request.addfinalizer(lambda: drop_lake_schema(schema))
    return build_settings(project=project, warehouse="ducklake:postgres:", environ=environ)


def copy_project_content(root: Path) -> Path:
    """The project's content (pipelines, schemas, migrations, views) copied under `root`."""
    for folder in ("pipelines", "schemas", "warehouse/migrations", "warehouse/views"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def migrations_before(migrations_dir: Path, folder: Path, version: str) -> Path:
    """`folder` holding a copy of the migrations older than `version` (`NNNN`): a warehouse as it was before it."""
    folder.mkdir()
    for path in sorted(migrations_dir.glob("*.sql")):
        if path.name < version:
            shutil.copy(path, folder / path.name)
    return folder


# Warehouses with the bundled figures and their report, shared by the analyst-facing tests.
pytest_plugins = ["analyst_fixtures"]


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(REPO / "schemas" / "indicators.toml")


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """An HTTP client for the loopback servers of a test (feeds, webhook receivers)."""
    # trust_env=False: a proxy variable in the environment must not send loopback traffic elsewhere.
    with new_client(trust_env=False) as c:
        yield c


@pytest.fixture
def settings(request, tmp_path: Path) -> Settings:
    """The real project content with a fresh warehouse of this test's own.

    On a lake the project is a copy, so that run-time files (raw store, inbox) stay out of the repository.
    """
    warehouse = tmp_path / "warehouse" / "octracker.duckdb"
    backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else "file"
    project = REPO if backend == "file" else copy_project_content(tmp_path / "project")
    return on_backend(request, project, tmp_path, warehouse)


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer on the test's warehouse, migrated and with its views (a module may define its own `con`)."""
    with open_writer(settings) as con:
        apply_migrations(con, settings.migrations_dir)
        apply_views(con, settings.views_dir)
        yield con


@pytest.fixture
def lake_settings(request, tmp_path: Path, lake_server) -> Settings:
    """A copy of the project on a fresh lake, for tests that are about lakes only."""
    return new_lake_settings(request, copy_project_content(tmp_path / "lake_project"), tmp_path)


def copy_project(root: Path) -> Settings:
    """A copy of the project's content under `root`, with a warehouse file of its own."""
    copy_project_content(root)
    return build_settings(project=root, warehouse=root / "warehouse" / "octracker.duckdb", environ={})


@pytest.fixture
def scratch_project(request, tmp_path: Path) -> Settings:
    """A copy of the project's content that a test may edit (documents, specs), with its own warehouse."""
    root = copy_project_content(tmp_path / "project")
    return on_backend(request, root, tmp_path, root / "warehouse" / "octracker.duckdb")


def updating_goldens() -> bool:
    """`OCTRACKER_UPDATE_GOLDEN=1`: tests rewrite their golden files from what the code gives now (review the diff)."""
    return bool(os.environ.get("OCTRACKER_UPDATE_GOLDEN"))


def octracker_command(settings: Settings, *args: str) -> list[str]:
    """The argv of an `octracker` process on these settings (run it with `child_env()`)."""
    return [
        sys.executable,
        "-m",
        "octracker",
        "--project",
        str(settings.project),
        "--warehouse",
        str(settings.warehouse),
        *args,
    ]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of an `octracker` process: this one's, with the source tree importable, plus `extra`."""
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), **extra}


def run_octracker(
    settings: Settings, *args: str, timeout: float = 180, **extra_env: str
) -> subprocess.CompletedProcess:
    """`octracker ...` as its own process, as an operator or cron runs it."""
    return subprocess.run(
        octracker_command(settings, *args), capture_output=True, text=True, timeout=timeout, env=child_env(**extra_env)
    )


def run_cli(settings: Settings, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    """Run the `octracker` command on these settings' project and warehouse (file or lake), as a user would, in
    this process (result.exit_code, .stdout, .stderr); `env` adds to its environment."""
    options, lake_env = cli_options(settings)
    return CliRunner().invoke(main, [*options, *args], input=input, env={**lake_env, **(env or {})})


#: Reader connections to the lakes of the running test: one serves all its queries, each of which sees the
#: lake's newest snapshot (a file's published copy is replaced by each refresh, so it is reopened every time).
_LAKE_READERS: dict = {}


@pytest.fixture(autouse=True)
def close_lake_readers():
    yield
    while _LAKE_READERS:
        _LAKE_READERS.popitem()[1].close()


def narrow_shootings(settings: Settings, most: int) -> None:
    """Edit the project copy's catalog so that `shootings` allows at most `most` (a change of the rules)."""
    catalog = settings.schemas_dir / "indicators.toml"
    text = catalog.read_text(encoding="utf-8")
    entry = 'id = "shootings"\nname = "Shootings"\nunit = "count"\ndirection = "up_is_bad"\n'
    entry += 'frequency = "annual"\nmin = 0\n'
    narrowed = text.replace(entry + "max = 100000", entry + f"max = {most}")
    assert narrowed != text, "the catalog entry of shootings changed: update this helper"
    catalog.write_text(narrowed, encoding="utf-8")


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one query as analysts read them: the published copy of a file, or the lake itself."""
    if settings.lake is not None:
        if settings.lake not in _LAKE_READERS:
            _LAKE_READERS[settings.lake] = open_reader(settings.lake)
        return _LAKE_READERS[settings.lake].execute(sql, params or []).fetchall()
    con = open_reader(settings.read_target)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def edit_warehouse(warehouse: Path, *statements: str) -> None:
    """Change a warehouse file's data by hand (a revision, a retraction, rows dropped), then store the alert findings
    again, as the engine's writers do in the transaction of every change they make."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("BEGIN TRANSACTION")
        for statement in statements:
            con.execute(statement)
        store_alert_findings(con)
        con.execute("COMMIT")
    finally:
        con.close()
