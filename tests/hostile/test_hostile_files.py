"""Bad files through `octracker ingest` and the inbox: each is refused whole, named, kept, and changes nothing.

What must hold after every case:
- exit status 2 and an `Error:` line naming the file and the check that refused it;
- the warehouse unchanged: the same row counts and the same `observation_history` and `sources` rows
  (a refusal adds its failed run, quarantine rows and inbox record: expected, see `warehouse_state`);
- the file kept, byte for byte, in `inbox/quarantine/` with a `.reason.txt` beside it, and its reason in the
  `quarantine` table; a file given to `ingest` is copied, so the operator's own file is untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_fixtures import (  # noqa: F401 - fixtures
    CASES,
    baseline,
    child_env,
    cli,
    loaded,
    loaded_scratch,
    octracker_command,
)
from hostile_inputs import (
    GOOD_CSV,
    GOOD_ROWS,
    formula_workbook_bytes,
    parquet_bytes,
    workbook_bytes,
    zip_bomb,
)
from warehouse_state import assert_unchanged, snapshot

from octracker.content.documents import MAX_DOCUMENT_BYTES

PROFILE_SIDECAR = 'kind = "oci_profile"\nedition = 2025\ncountries = ["NL", "BE"]\n'


def table_case(name: str) -> bytes:
    return (CASES / "tables" / name).read_bytes()


def profile_case(name: str) -> bytes:
    return (CASES / "oci_profile" / name).read_bytes()


@dataclass(frozen=True)
class BadFile:
    """A file an operator might be handed, and how it must be refused."""

    name: str
    content: object  # bytes, or a function returning them (built once, when a test needs it)
    check: str  # the check named in the message and the quarantine row
    says: str  # a part of the message that names the problem
    sidecar: str | None = None

    def data(self) -> bytes:
        return self.content if isinstance(self.content, bytes) else self.content()


BAD_FILES = [
    BadFile(
        "underflow.csv",
        GOOD_CSV.replace(b"2024,92,count", b"2024,1E-400,count"),
        "bad_number",
        "value '1E-400' is not a plain decimal number",
    ),
    BadFile(
        "half.csv", GOOD_CSV.replace(b"2024,92,count", b"2024,0.5,count"), "not_whole", "value '0.5' is not a whole"
    ),
    BadFile(
        "future.csv",
        GOOD_CSV.replace(b"approx,2025-09-10", b"approx,9999-12-31"),
        "bad_as_of",
        "as_of '9999-12-31' is not a YYYY-MM-DD date on or after the period start and not after today",
    ),
    BadFile(
        "computed-by-nobody.xlsx",
        formula_workbook_bytes,
        "formula_without_value",
        "cell B3 holds a formula whose value was never computed",
        'kind = "oci_wide"\nedition = 2025\n',
    ),
    BadFile("empty.csv", b"", "empty_file", "the file is empty (0 bytes)"),
    BadFile("noise.bin", bytes(range(256)) * 16, "unrecognised_file", "NUL byte at line 1 (byte 0)"),
    BadFile("nul.csv", table_case("long_nul.csv"), "binary_file", "NUL byte at line 3"),
    BadFile("latin1.csv", table_case("long_latin1.csv"), "not_utf8", "byte 0xE8 at line 3"),
    BadFile(
        "rapport.txt",
        "Rapport annuel\nLiège: 12 fusillades\n".encode("latin-1"),
        "unrecognised_file",
        "not UTF-8 text: byte 0xE8 at line 2",
    ),
    BadFile("bomb.xlsx", zip_bomb, "refused", "zip_bomb: the workbook would expand to 268,"),
    BadFile(
        "lying-bomb.xlsx",
        lambda: zip_bomb(declared_size=4096),
        "unreadable_file",
        "not a readable XLSX workbook",
        'kind = "oci_wide"\nedition = 2025\n',
    ),
    BadFile("ragged.csv", table_case("long_ragged.csv"), "ragged_row", "expected 5 fields as in the header, found 6"),
    BadFile("types.csv", table_case("long_wrong_types.csv"), "bad_number", "value 'sixty-one' is not a plain"),
    BadFile("keys.csv", table_case("long_duplicates.csv"), "duplicate_key", "same indicator, geo and period as line 2"),
    BadFile("formula.csv", table_case("long_formula.csv"), "formula_injection", "a spreadsheet would run it"),
    BadFile(
        "cut.txt", profile_case("truncated_block.txt"), "missing_indicator", "was the profile text cut", PROFILE_SIDECAR
    ),
    BadFile(
        "score.txt",
        profile_case("score_out_of_range.txt"),
        "score_out_of_range",
        "score 18.00 outside 1-10",
        PROFILE_SIDECAR,
    ),
    BadFile(
        "range.csv",
        GOOD_CSV.replace(b"2024,92,count", b"2024,99999999,count"),
        "out_of_range",
        "outside the catalog range 0 to 100000 of shootings",
    ),
    BadFile(
        "negative.csv",
        GOOD_CSV.replace(b"2024,92,count", b"2024,-92,count"),
        "out_of_range",
        "value '-92' is outside the catalog range",
    ),
    # Sidecars that lie about the kind: the reader of the kind they claim refuses the file.
    BadFile(
        "table-as-profile.csv",
        GOOD_CSV,
        "no_score_blocks",
        "is this an oci_profile document?",
        'kind = "oci_profile"\nedition = 2025\n',
    ),
    BadFile(
        "profile-as-table.txt",
        (CASES / "inbox" / "oci_2023_profiles_nl_be.txt").read_bytes(),
        "missing_column",
        "a long table needs indicator, geo, period, value, unit",
        'kind = "observations_long"\n',
    ),
    BadFile(
        "table-as-wide.parquet",
        parquet_bytes,
        "wrong_format",
        "a Parquet file is not a wide index table",
        'kind = "oci_wide"\nedition = 2025\n',
    ),
    BadFile(
        "workbook-as-article.xlsx",
        workbook_bytes,
        "refused",
        "NUL byte at line",
        'kind = "article"\ntitle = "Not an article"\n',
    ),
    BadFile("bad-sidecar.csv", GOOD_CSV, "refused", "not valid TOML at line 1", 'kind = "observations_long\n'),
]


def drop(folder: Path, bad: BadFile) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / bad.name
    path.write_bytes(bad.data())
    if bad.sidecar is not None:
        (folder / f"{bad.name}.meta.toml").write_text(bad.sidecar, encoding="utf-8")
    return path


def quarantined(settings, name: str) -> list[Path]:
    folder = settings.inbox_dir / "quarantine"
    return sorted(p for p in folder.glob(f"*-{name}")) if folder.is_dir() else []


def assert_refused_and_kept(settings, bad: BadFile, result, before) -> None:
    """Exit 2, the message, nothing changed, one failed run with its reasons, the file kept in quarantine."""
    assert result.exit_code == 2, result.output
    assert f"Error: {bad.name}" in result.stderr and bad.check in result.stderr and bad.says in result.stderr, (
        result.stderr
    )
    assert_unchanged(settings.warehouse, before)
    after = snapshot(settings.warehouse)
    assert after.counts["runs"] == before.counts["runs"] + 1
    assert after.counts["quarantine"] > before.counts["quarantine"]
    [kept] = quarantined(settings, bad.name)
    assert kept.read_bytes() == bad.data()
    reason = Path(f"{kept}.reason.txt").read_text(encoding="utf-8")
    assert reason.startswith(bad.name) and bad.check in reason
    assert list(settings.inbox_dir.glob(bad.name)) == []  # nothing of it waits in the inbox any more


@pytest.mark.parametrize("bad", BAD_FILES, ids=[b.name for b in BAD_FILES])
def test_ingest_refuses_a_bad_file_whole_names_it_and_keeps_it(loaded, tmp_path, bad):
    original = drop(tmp_path / "downloads", bad)
    before = snapshot(loaded.warehouse)
    result = cli(loaded, "ingest", str(original))
    assert_refused_and_kept(loaded, bad, result, before)
    assert original.read_bytes() == bad.data()  # ingest copies; the operator's file is never moved or changed


@pytest.mark.parametrize("bad", BAD_FILES, ids=[b.name for b in BAD_FILES])
def test_the_inbox_refuses_a_bad_file_whole_names_it_and_keeps_it(loaded, bad):
    drop(loaded.inbox_dir, bad)
    before = snapshot(loaded.warehouse)
    result = cli(loaded, "refresh", "inbox")
    assert_refused_and_kept(loaded, bad, result, before)


def test_a_bad_file_among_good_ones_is_refused_alone(loaded, tmp_path):
    good = tmp_path / "shootings.csv"
    good.write_bytes(GOOD_CSV)
    bad = drop(tmp_path, next(b for b in BAD_FILES if b.name == "ragged.csv"))
    before = snapshot(loaded.warehouse)
    result = cli(loaded, "ingest", "--json", str(good), str(bad))
    assert result.exit_code == 2
    assert "Error: ragged.csv" in result.stderr and "shootings.csv" not in result.stderr
    statuses = {r["subject"]: (r["status"], r["new"]) for r in json.loads(result.stdout)}
    assert statuses == {"shootings.csv": ("success", GOOD_ROWS), "ragged.csv": ("refused", 0)}
    assert snapshot(loaded.warehouse).counts["observation_history"] == before.counts["observation_history"] + GOOD_ROWS


# One gigabyte -----------------------------------------------------------------------------------------------------

#: Runs the command, then writes its peak memory: VmHWM, which (unlike ru_maxrss) does not count the memory of
#: the process it was forked from.
MEASURED = """
import sys
from octracker.cli import main
try:
    main(sys.argv[2:], prog_name="octracker")
finally:
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""
GIB = 1 << 30


def sparse_file(path: Path, size: int = GIB) -> Path:
    """A file that says it is `size` bytes long without taking that space on disk (all zeros)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def run_measured(settings, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run `octracker ...` in a process of its own; also return its peak memory in MiB."""
    peak = tmp_path / "peak_kib"
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, str(peak), *octracker_command(settings, *args)[3:]],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
    )
    return done, int(peak.read_text()) // 1024


def test_a_1_gb_file_given_to_ingest_is_refused_by_its_size_before_anything_is_read_or_copied(loaded, tmp_path):
    huge = sparse_file(tmp_path / "downloads" / "huge.csv")
    assert MAX_DOCUMENT_BYTES < GIB
    before = snapshot(loaded.warehouse)
    done, peak_mib = run_measured(loaded, tmp_path, "ingest", str(huge))
    assert done.returncode == 2
    assert (
        f"Error: huge.csv: the file has {GIB:,} bytes, more than the {MAX_DOCUMENT_BYTES:,} a document may have; "
        "refused without reading it"
    ) in done.stderr and "nothing was ingested" in done.stderr
    assert peak_mib < 700, f"the process grew to {peak_mib} MiB: it read the file"
    # Nothing copied into the inbox, the warehouse not even opened, the operator's file as it was.
    assert not loaded.inbox_dir.exists() or not any(loaded.inbox_dir.rglob("*"))
    assert_unchanged(loaded.warehouse, before, may_grow=frozenset())
    assert huge.stat().st_size == GIB


def test_a_1_gb_file_dropped_in_the_inbox_is_refused_unread_and_moved_to_quarantine(loaded, tmp_path):
    sparse_file(loaded.inbox_dir / "huge.csv")
    before = snapshot(loaded.warehouse)
    done, peak_mib = run_measured(loaded, tmp_path, "refresh", "inbox")
    assert done.returncode == 2
    assert "Error: huge.csv: too_large: huge.csv: the file has 1,073,741,824 bytes" in done.stderr
    assert peak_mib < 700, f"the process grew to {peak_mib} MiB: it read the file"
    assert_unchanged(loaded.warehouse, before)
    [kept] = quarantined(loaded, "huge.csv")
    assert kept.stat().st_size == GIB  # moved (renamed), not copied: still the same sparse file
    assert not loaded.raw_dir.joinpath("huge.csv").exists() and not any(
        p.stat().st_size >= GIB for p in loaded.raw_dir.rglob("*") if p.is_file()
    )


def test_a_pipelines_1_gb_document_is_refused_by_its_size_and_the_other_pipelines_still_load(loaded_scratch, tmp_path):
    settings = loaded_scratch
    sparse_file(settings.pipelines_dir / "documents" / "huge.txt")
    (settings.pipelines_dir / "huge.toml").write_text(
        'extractor = "narrative"\ndocument = "documents/huge.txt"\nprecedence = 30\n[source]\nsource_id = "huge"\n',
        encoding="utf-8",
    )
    before = snapshot(settings.warehouse)
    done, peak_mib = run_measured(settings, tmp_path, "refresh", "--json")
    assert done.returncode == 2
    assert "Error: huge.txt: refused: huge.txt: the file has 1,073,741,824 bytes" in done.stderr
    assert peak_mib < 700, f"the process grew to {peak_mib} MiB: it read the file"
    statuses = {r["pipeline"]: r["status"] for r in json.loads(done.stdout)}
    assert statuses.pop("huge") == "refused" and set(statuses.values()) <= {"success", "unchanged", "unreachable"}
    assert_unchanged(settings.warehouse, before)


# Paths: `..` and symbolic links --------------------------------------------------------------------------------------


def test_ingest_of_a_path_with_dotdot_copies_the_file_into_the_inbox_under_its_base_name_only(loaded, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "shootings.csv").write_bytes(GOOD_CSV)
    result = cli(loaded, "ingest", str(tmp_path / "a" / "b" / ".." / "shootings.csv"))
    assert result.exit_code == 0, result.output
    # Archived inside the inbox under its own name; nothing written next to the warehouse or beside the file.
    archived = [p.relative_to(loaded.inbox_dir).parts for p in loaded.inbox_dir.rglob("shootings.csv")]
    assert [(a[0], a[2]) for a in archived] == [("archive", "shootings.csv")]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b", "shootings.csv"]


def test_an_inbox_path_leading_out_with_dotdot_is_refused_and_left_where_it_is(loaded):
    outside = loaded.data_dir / "outside.csv"
    outside.write_bytes(GOOD_CSV)
    loaded.inbox_dir.mkdir()
    before = snapshot(loaded.warehouse)
    from octracker.load.pipeline import ingest_files

    [result] = ingest_files(loaded, [loaded.inbox_dir / ".." / "outside.csv"])
    assert (result.status, result.exit_code) == ("refused", 2)
    assert "outside.csv" in result.error and "names with '..' are refused" in result.error
    assert_unchanged(loaded.warehouse, before)
    assert outside.read_bytes() == GOOD_CSV


@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/zero", "outside"])
def test_a_symlink_in_the_inbox_leading_out_is_refused_unread_and_the_link_kept(loaded, tmp_path, target):
    if target == "outside":
        target = str(tmp_path / "secret.csv")
        Path(target).write_bytes(GOOD_CSV)
    loaded.inbox_dir.mkdir()
    (loaded.inbox_dir / "innocent.csv").symlink_to(target)
    raw_files_before = sorted(p.name for p in loaded.raw_dir.rglob("*") if p.is_file())
    before = snapshot(loaded.warehouse)
    result = cli(loaded, "refresh", "inbox")
    assert result.exit_code == 2
    assert "Error: innocent.csv" in result.stderr and "is a symbolic link to" in result.stderr
    assert "outside the inbox" in result.stderr
    assert_unchanged(loaded.warehouse, before)
    [kept] = quarantined(loaded, "innocent.csv")
    assert kept.is_symlink() and os.readlink(kept) == target
    # Nothing behind the link was read: the raw store holds only what the baseline stored.
    assert sorted(p.name for p in loaded.raw_dir.rglob("*") if p.is_file()) == raw_files_before
