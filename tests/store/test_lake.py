"""DuckLake targets: parsing, the extension wheels, secrets kept out of messages, leases, retried commits, readers."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakes import cli_options
from octracker.cli import main
from octracker.content.catalog import load_catalog
from octracker.errors import OctrackerError, UsageError, WarehouseBusy
from octracker.load.pipeline import refresh
from octracker.store import lake, writers
from octracker.store.lake import parse_lake_target
from octracker.store.settings import build_settings
from octracker.store.warehouse import open_reader, open_writer, prepare_warehouse


def test_postgres_target_takes_libpq_settings_from_the_environment(tmp_path):
    target = parse_lake_target(
        "ducklake:postgres:",
        {
            "PGHOST": "db.internal",
            "PGPORT": "5433",
            "PGUSER": "etl",
            "PGDATABASE": "lake",
            "PGPASSWORD": "s3cr3t-pw",
            "OCTRACKER_LAKE_DATA": "s3://bucket/octracker/",
        },
        tmp_path,
    )
    assert target.catalog_kind == "postgres"
    assert target.catalog == "host=db.internal port=5433 user=etl dbname=lake"
    assert target.data_path == "s3://bucket/octracker/"
    assert target.password == "s3cr3t-pw"
    assert "s3cr3t-pw" not in repr(target) and "s3cr3t-pw" not in target.describe()
    assert (
        target.analyst_attach()
        == "ATTACH 'ducklake:postgres:host=db.internal port=5433 user=etl dbname=lake' AS lake (READ_ONLY)"
    )


@pytest.mark.parametrize(
    "catalog",
    [
        "host=db user=etl password='pa ss\\'word' dbname=lake",
        "postgresql://etl:pa%20ss%27word@db/lake",
    ],
)
def test_a_password_in_the_catalog_setting_is_taken_out_of_the_connection_string(tmp_path, catalog):
    target = parse_lake_target("ducklake:postgres:", {"OCTRACKER_LAKE_CATALOG": catalog}, tmp_path)
    assert target.password == "pa ss'word"
    assert "word" not in target.catalog and "word" not in target.describe()


def test_local_catalog_file_keeps_its_data_beside_it_and_its_run_time_files_too(tmp_path):
    settings = build_settings(project=tmp_path, warehouse=f"ducklake:{tmp_path}/lake/catalog.ducklake", environ={})
    assert settings.lake.catalog_kind == "duckdb"
    assert settings.lake.data_path == f"{tmp_path}/lake/catalog.ducklake.files/"
    assert settings.raw_dir == tmp_path / "lake" / "raw"
    assert settings.read_target == settings.lake


def test_unsupported_lake_catalog_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="use ducklake:postgres:"):
        parse_lake_target("ducklake:sqlite:meta.db", {}, tmp_path)


def test_without_the_lake_extra_a_lake_target_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(lake.EXTENSION_WHEELS, "ducklake", "duckdb_extension_not_installed_here")
    result = CliRunner().invoke(
        main, ["--project", str(tmp_path), "--warehouse", f"ducklake:{tmp_path}/c.ducklake", "sql", "SELECT 1"]
    )
    assert result.exit_code == 1
    assert "pip install 'octracker[lake]'" in result.output


def test_an_extension_built_for_another_duckdb_is_refused_with_the_fix(monkeypatch, lake_server):
    monkeypatch.setattr(lake.duckdb, "__version__", "9.9.9")
    with pytest.raises(
        OctrackerError, match=r"built for DuckDB 1\.5\.5, but DuckDB 9\.9\.9 is installed.*octracker\[lake\]"
    ):
        lake.extension_file("ducklake")


def test_local_catalog_lake_refreshes_and_answers_queries_with_extensions_from_the_wheels(tmp_path, lake_server):
    warehouse = f"ducklake:{tmp_path}/lake/catalog.ducklake"
    runner = CliRunner()
    base = ["--project", str(Path(__file__).resolve().parents[2]), "--warehouse", warehouse]
    # The project is the repository: its raw store goes beside the catalog, not into the checkout.
    result = runner.invoke(main, [*base, "refresh", "oci_2025_profiles"])
    assert result.exit_code == 0, result.output
    assert "144" in result.output
    result = runner.invoke(
        main, [*base, "sql", "SELECT geo, COUNT(*) AS n FROM series GROUP BY geo ORDER BY geo", "--format", "csv"]
    )
    assert result.output.split() == ["geo,n", "BE,72", "NL,72"]
    assert any((tmp_path / "lake" / "catalog.ducklake.files").rglob("*.parquet"))
    assert (tmp_path / "lake" / "raw").is_dir()
    con = open_reader(build_settings(warehouse=warehouse, environ={}).lake)
    try:
        installed = dict(
            con.execute(
                "SELECT extension_name, installed_from FROM duckdb_extensions() "
                "WHERE extension_name IN ('ducklake', 'postgres_scanner')"
            ).fetchall()
        )
    finally:
        con.close()
    assert installed["ducklake"].endswith("duckdb_extension_ducklake/extensions/v1.5.5/ducklake.duckdb_extension")


#: A process that attaches a local lake of its own with the extensions installed into the folder given.
ATTACH_WITH_EXTENSIONS_IN = """
import sys
from pathlib import Path
from octracker.store import lake
lake.extension_directory = lambda: Path(sys.argv[1])
target = lake.LakeTarget("duckdb", sys.argv[2], sys.argv[2] + ".files/")
con = lake.connect_lake(target, read_only=False)
con.execute("CREATE TABLE t AS SELECT 42 AS answer")
print(con.execute("SELECT answer FROM t").fetchone()[0])
"""


def test_processes_installing_the_extensions_at_once_each_get_them_and_leave_the_users_duckdb_alone(
    tmp_path, lake_server
):
    """Several octracker processes of one environment (and of others, each in its own folder) once met in the
    user's shared ~/.duckdb, one loading an extension while another wrote it."""
    assert lake.extension_directory().is_relative_to(sys.prefix)
    home, extensions = tmp_path / "home", tmp_path / "extensions"
    home.mkdir()
    extensions.mkdir()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", ATTACH_WITH_EXTENSIONS_IN, str(extensions), str(tmp_path / f"lake{n}.ducklake")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(home)},
        )
        for n in range(4)
    ]
    answers = [child.communicate(timeout=300) for child in children]
    assert [(child.returncode, out.strip()) for child, (out, _) in zip(children, answers)] == [(0, "42")] * 4, answers
    assert [p.name for p in extensions.rglob("*.duckdb_extension")] == ["ducklake.duckdb_extension"]
    assert list(home.iterdir()) == []


def test_a_wrong_password_is_never_printed(lake_settings):
    options, env = cli_options(lake_settings)
    catalog = (
        f"host={os.environ['PGHOST']} port={os.environ['PGPORT']} user={os.environ['PGUSER']} "
        "password=Wr0ngPassw0rd dbname=postgres"
    )
    result = CliRunner().invoke(
        main, [*options, "refresh"], env={**env, "OCTRACKER_LAKE_CATALOG": catalog, "PGPASSWORD": None}
    )
    # The flag's `ducklake:postgres:` is empty after the prefix, so the catalog setting is used.
    assert result.exit_code == 1
    assert "cannot open the lake" in result.output and "password authentication failed" in result.output
    assert "Wr0ngPassw0rd" not in result.output


def test_lake_reader_for_sql_cannot_read_files_or_attach(lake_settings):
    options, env = cli_options(lake_settings)
    runner = CliRunner()
    assert runner.invoke(main, [*options, "refresh", "oci_2025_profiles"], env=env).exit_code == 0
    ok = runner.invoke(main, [*options, "sql", "SELECT COUNT(*) AS n FROM observations", "--format", "csv"], env=env)
    assert ok.output.split() == ["n", "144"]
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH '/tmp/other.duckdb' AS other",
        "DELETE FROM observation_history",
        "SET enable_external_access = true",
    ):
        result = runner.invoke(main, [*options, "sql", sql], env=env)
        assert result.exit_code == 2, (sql, result.output)


def hold_lease_elsewhere(settings, pipeline):
    """A live coordinator of another (simulated) process holding the pipeline's lease."""
    other = writers.Coordinator(settings.lake, lock_timeout_s=5)
    assert other.try_lock(f"pipeline/{pipeline}")
    return other


def test_same_pipeline_in_two_processes_refuses_clearly_after_waiting(lake_settings):
    settings = dataclasses.replace(lake_settings, lock_timeout_s=1.0)
    other = hold_lease_elsewhere(settings, "oci_2025_profiles")
    try:
        started = time.monotonic()
        results = {r.pipeline: r for r in refresh(settings)}
    finally:
        other.close()
    refused = results["oci_2025_profiles"]
    assert refused.status == "failed" and refused.exit_code == 1
    assert f"pid {os.getpid()} is refreshing it (waited 1 s)" in refused.error
    assert "it was not run this time" in refused.error
    assert time.monotonic() - started >= 1.0
    assert all(r.status in ("success", "unreachable") for name, r in results.items() if name != "oci_2025_profiles")
    con = open_reader(settings.lake)
    try:
        assert con.execute("SELECT COUNT(*) FROM runs WHERE pipeline = 'oci_2025_profiles'").fetchone()[0] == 0
    finally:
        con.close()


def test_same_pipeline_waits_for_the_other_process_then_runs(lake_settings):
    other = hold_lease_elsewhere(lake_settings, "oci_2025_profiles")
    threading.Timer(1.0, other.close).start()
    (result,) = refresh(lake_settings, ["oci_2025_profiles"])
    assert result.status == "success" and result.counts.new == 144


def test_only_runs_whose_owner_is_gone_are_marked_interrupted(lake_settings):
    catalog = load_catalog(lake_settings.schemas_dir / "indicators.toml")
    with open_writer(lake_settings) as con:
        prepare_warehouse(con, lake_settings, catalog)
        for pipeline in ("oci_2021_belgium", "oci_2025_profiles"):
            con.execute(
                "INSERT INTO runs (run_id, pipeline, started_at, status) VALUES (?, ?, now()::TIMESTAMP, 'running')",
                [f"r-{pipeline}", pipeline],
            )
    other = hold_lease_elsewhere(lake_settings, "oci_2025_profiles")  # a live process is running this one
    try:
        refresh(lake_settings, ["article_us_visit"])
    finally:
        other.close()
    con = open_reader(lake_settings.lake)
    try:
        statuses = dict(con.execute("SELECT run_id, status FROM runs WHERE run_id LIKE 'r-%'").fetchall())
    finally:
        con.close()
    assert statuses == {"r-oci_2021_belgium": "interrupted", "r-oci_2025_profiles": "running"}


@pytest.fixture
def two_writers(lake_settings, monkeypatch):
    """Two writer connections to one lake, with a table of counters; retries without long waits."""
    monkeypatch.setattr(writers, "FIRST_RETRY_DELAY_S", 0.01)
    with open_writer(lake_settings) as con, open_writer(lake_settings) as other:
        con.execute("CREATE TABLE counters (name VARCHAR, n INTEGER)")
        con.execute("INSERT INTO counters VALUES ('a', 0), ('b', 0)")
        yield con, other


def test_a_commit_refused_for_a_conflict_is_redone_on_a_fresh_snapshot(two_writers):
    con, other = two_writers
    attempts = []

    def bump_a() -> int:
        attempts.append(1)
        n = con.execute("SELECT n FROM counters WHERE name = 'a'").fetchone()[0]
        con.execute("UPDATE counters SET n = ? WHERE name = 'a'", [n + 1])
        if len(attempts) == 1:
            # Another writer that does not take the commit lock (maintenance, an older client) commits now.
            other.execute("UPDATE counters SET n = n + 10 WHERE name = 'b'")
        return n + 1

    assert writers.write_transaction(con, bump_a, what="test") == 1
    assert len(attempts) == 2
    assert con.execute("SELECT name, n FROM counters ORDER BY name").fetchall() == [("a", 1), ("b", 10)]


def test_a_commit_refused_every_time_gives_up_after_a_bounded_number_of_attempts(two_writers, monkeypatch):
    monkeypatch.setattr(writers, "MAX_COMMIT_ATTEMPTS", 3)
    con, other = two_writers
    attempts = []

    def always_conflicting() -> None:
        attempts.append(1)
        con.execute("UPDATE counters SET n = n + 1")
        other.execute("UPDATE counters SET n = n + 10")

    with pytest.raises(WarehouseBusy, match="test write: the lake refused the commit 3 times"):
        writers.write_transaction(con, always_conflicting, what="test write")
    assert len(attempts) == 3
    assert con.execute("SELECT n FROM counters WHERE name = 'a'").fetchone()[0] == 30


@pytest.fixture
def s3_server(monkeypatch):
    """A real S3-compatible server (moto) on 127.0.0.1 with a bucket, and the AWS_* variables that reach it."""
    pytest.importorskip("moto.server", reason="moto[server] (test extra) runs the S3-compatible server")
    import socket
    import subprocess
    import sys

    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        # Its start-up (imports of boto and Flask) can take many seconds on a loaded machine.
        deadline = time.monotonic() + 120
        while True:
            try:
                client.create_bucket(Bucket="lake")
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        yield client
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_data_in_object_storage_is_written_and_read_through_an_s3_prefix(lake_settings, s3_server):
    settings = dataclasses.replace(
        lake_settings, lake=dataclasses.replace(lake_settings.lake, data_path="s3://lake/octracker/")
    )
    (result,) = refresh(settings, ["oci_2025_profiles"])
    assert result.status == "success" and result.counts.new == 144
    listed = s3_server.list_objects_v2(Bucket="lake", Prefix="octracker/")
    assert any(item["Key"].endswith(".parquet") for item in listed.get("Contents", []))
    # A reader names no data path: it learns from the catalog that the data is in object storage.
    options, env = cli_options(lake_settings)
    env = {**env, "OCTRACKER_LAKE_DATA": None}
    result = CliRunner().invoke(main, [*options, "sql", "SELECT COUNT(*) AS n FROM series", "--format", "csv"], env=env)
    assert result.output.split() == ["n", "144"], result.output


def test_status_and_export_read_the_lake(lake_settings, tmp_path):
    options, env = cli_options(lake_settings)
    runner = CliRunner()
    assert runner.invoke(main, [*options, "refresh", "oci_2025_profiles"], env=env).exit_code == 0
    result = runner.invoke(main, [*options, "status", "--json"], env=env)
    status = json.loads(result.output)
    assert status["published_at"] is not None and "DuckLake" in status["warehouse"]
    runs = {p["pipeline"]: p for p in status["pipelines"]}
    assert (runs["oci_2025_profiles"]["result"], runs["oci_2025_profiles"]["rows_current"]) == ("success", 144)
    out = tmp_path / "export"
    result = runner.invoke(main, [*options, "export", "--format", "csv", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert len((out / "series.csv").read_text(encoding="utf-8").splitlines()) == 1 + 144
