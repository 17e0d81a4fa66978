"""A table delivered again says truthfully what changed, however its rows moved.

What must hold: the run's counts (printed by `refresh`, kept in `runs`) give as revised the rows whose value
changed, the same rows `changes` lists, and as unchanged every row stated again as it was, also when a row put
in front of it moved every line down (its evidence then cites the new line; that is no revision).
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from hostile_fixtures import baseline, cli, loaded  # noqa: F401
from hostile_inputs import write_long_parquet

from published import read_rows

ROWS = 3000
SIDECAR = 'kind = "observations_long"\npublisher = "Statbel"\ntitle = "Daily shootings"\n'


def deliver(settings, name: str, frame: pl.DataFrame, fmt: str) -> dict:
    settings.inbox_dir.mkdir(exist_ok=True)
    path = settings.inbox_dir / name
    if fmt == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    path.with_name(name + ".meta.toml").write_text(SIDECAR, encoding="utf-8")
    result = cli(settings, "refresh", "inbox", "--json")
    assert result.exit_code == 0, result.output
    [record] = json.loads(result.stdout)
    return record


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_redelivered_table_counts_as_revised_only_the_values_that_changed(loaded, tmp_path, fmt):
    first = tmp_path / "first.parquet"
    write_long_parquet(first, ROWS)
    table = pl.read_parquet(first)
    assert deliver(loaded, f"daily.{fmt}", table, fmt)["new"] == ROWS
    # Every seventh value corrected, and one row put in front: every row after it is on another line.
    corrected = table.with_columns(
        value=pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.col("value") + 1).otherwise(pl.col("value"))
    )
    in_front = table.head(1).with_columns(period=pl.lit("2100-01-01/2100-01-01"))
    moved = (corrected["value"] != table["value"]).sum()
    record = deliver(loaded, f"daily.{fmt}", pl.concat([in_front, corrected]), fmt)
    assert (record["new"], record["revised"], record["unchanged"]) == (1, moved, ROWS - moved)
    run = record["run_id"]
    assert read_rows(
        loaded.published_path, "SELECT rows_new, rows_revised, rows_unchanged FROM runs WHERE run_id = ?", [run]
    ) == [(1, moved, ROWS - moved)]
    assert read_rows(
        loaded.published_path,
        "SELECT change, COUNT(*) FROM changes WHERE run_id = ? GROUP BY change ORDER BY change",
        [run],
    ) == [("new", 1), ("revised", moved)]
