"""Who holds the warehouse file: octracker itself, or another program named with its PID."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from octracker.store.warehouse import is_octracker_command, lock_holder

HOLD = "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.readline()"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["/venv/bin/octracker", "refresh"], True),
        (["/venv/bin/python", "/venv/bin/octracker", "schedule"], True),
        (["python3", "-m", "octracker", "refresh"], True),
        # A path that merely contains the word is not octracker running.
        (["python3", "-c", "import duckdb", "/data/octracker.duckdb"], False),
        (["duckdb", "/srv/octracker/warehouse/octracker.duckdb"], False),
    ],
)
def test_an_octracker_command_line_is_told_from_another_program(args, expected):
    assert is_octracker_command(args) is expected


def test_a_lock_held_by_another_program_names_it_and_its_pid(tmp_path):
    path = tmp_path / "octracker.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException) as refused:
            duckdb.connect(str(path))
        message = lock_holder(str(refused.value))
    finally:
        holder.communicate("\n", timeout=30)
    assert message.startswith(f"the warehouse file is locked by another program, PID {holder.pid} (")
    assert "another octracker process" not in message
