""".ci/run on a machine without Chromium nor the monitoring tools: the package lists are fetched once.

apt-get is a stand-in that records its calls: `update` succeeds, `install` fails as it does without root, so
the script stops (exit 1, naming what CI needs) before it would start PostgreSQL and the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_run_updates_the_package_lists_once_and_says_what_is_missing(tmp_path):
    calls = tmp_path / "apt-get.calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n[ "$1" = update ]\n', encoding="utf-8")
    fake.chmod(0o755)
    # Only the commands the script needs before it installs anything: no chromium, promtool or Alertmanager.
    dirname = shutil.which("dirname")
    assert dirname is not None
    (bin_dir / "dirname").symlink_to(dirname)
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run(
        [bash, str(ROOT / ".ci" / "run")],
        env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", str(tmp_path))},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "chromium not installed: the browser test of the report will be skipped" in done.stderr
    assert "CI needs Alertmanager and promtool" in done.stderr
    assert calls.read_text(encoding="utf-8").splitlines() == [
        "update",
        "install -y chromium",
        "install -y --no-install-recommends prometheus-alertmanager prometheus",
    ]
