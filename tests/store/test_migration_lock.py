"""Shipped migrations are never edited: a warehouse that applied one would never see the edit.

Each migration on main is locked here by its sha256. Editing a locked file fails this test; the change goes
into a new numbered file instead. A new migration fails until its line is added to SHIPPED.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[2] / "warehouse" / "migrations"

#: file name -> sha256 of its bytes, as shipped.
SHIPPED = {
    "0001_core_tables.sql": "5a6e04a8f560997228d4c6d9e8019d46e5e74b2ca8ee29426c05e71ffe5301ad",
    "0002_alerts.sql": "0b1f0df0311339f8a26e0e5b091ed03a8b5577e41f97d65804198f2e7b6db014",
    "0003_candidates.sql": "4f5e10e0488e58f449147c5d89fabcfa4603cdb30753b43acd181650b27851f7",
    "0004_inbox_feeds.sql": "f46a1f334bbb4779ce7a983f03687fb9001f5283f99631a93ce022ba2ffc3feb",
    "0006_run_inputs.sql": "e53f2b0285527cae5f9de17825551151340f31a7d218c65085f59c48fd353bb4",
    "0007_row_hashes.sql": "21c84c8003825771aa938f94edb9a2a4eec1affd08c5cc65ca5286ec2abd7c9d",
    "0008_multi_source_periods.sql": "9b548257fb058a2b1d675848cfab097c40415cce417e59c8b4bfbd98e91f59de",
    "0010_geo_groups.sql": "40310772c9482c43b124085df16cb67b683bba4b66c0c7b34dce8e85b1869644",
    "0011_alert_silences.sql": "b1abaf786de3336fcbf2157e323c91c10fee1b22f5ebf5c0cecf1de7caec2355",
    "0012_observation_flags.sql": "3345fc6d7d9aa99a71965e513b4fac4a227e01ba127db480aa0fbc0d1973231d",
    "0013_feed_vintage.sql": "5550085fd11f956004980f4e6325f26319327c5d6f7c1faba4f9a637d3838122",
    "0014_alert_places.sql": "cc4ba871183ccd734036f3645af86d7ead4145e704e45907dd8abe6b2ff275ea",
    "0015_evidence_rows.sql": "762dd843e93d14c1b222c14195f2f1989b7f125d25b3faf774f65254dacdc192",
    "0016_applied_views.sql": "47e6226c83b2574d1ac5df08aed79c8e8705f4b57f4c442013184e463607d996",
    "0017_stored_alert_findings.sql": "b27084751b7067db7b31eba77460db40192f79f7dc39d3ea44081aa960603183",
    "0018_staged_runs.sql": "ec1fb40badfe598f9e7a524ab2c0ead9981f1fd397e5e904a8f05a3fc55162b2",
    "0019_loads.sql": "ccb06a1d9055e77685c87cb90d0a1b377259f6518be18795402cc565bbb1c30f",
    "0020_series_keys.sql": "1a1b8b20a03ed161e2124d3f129a07f08bc8048a9d751e7d065b654a578a0bef",
    "0021_load_units.sql": "261eefd1dc78b4840106a33bab91dcc50bfc272f6d430f14217deccbc517c611",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_problems(migrations: Path, shipped: dict[str, str]) -> list[str]:
    """What is wrong with the migrations folder against the lock, one sentence each."""
    present = {p.name: sha256(p) for p in sorted(migrations.glob("*.sql"))}
    problems = []
    for name, digest in shipped.items():
        if name not in present:
            problems.append(f"{name} was shipped and is gone: restore it (a warehouse may already have applied it)")
        elif present[name] != digest:
            problems.append(
                f"{name} was shipped and has been edited: restore it and put the change in a new numbered file "
                f"(after {max(present)})"
            )
    for name in sorted(set(present) - set(shipped)):
        problems.append(
            f"{name} is new: once it is final, lock it by adding "
            f'"{name}": "{present[name]}" to SHIPPED in tests/store/test_migration_lock.py'
        )
    return problems


def test_shipped_migrations_are_unchanged_and_every_migration_is_locked():
    problems = lock_problems(MIGRATIONS, SHIPPED)
    assert not problems, "\n".join(problems)


def test_an_edited_migration_is_named_with_the_way_out(tmp_path):
    for name in SHIPPED:
        (tmp_path / name).write_bytes((MIGRATIONS / name).read_bytes())
    edited = tmp_path / "0002_alerts.sql"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n-- one more column\n", encoding="utf-8")
    more = f"{int(max(SHIPPED)[:4]) + 1:04d}_more.sql"  # after the last shipped one
    (tmp_path / more).write_text("SELECT 1;\n", encoding="utf-8")
    problems = lock_problems(tmp_path, SHIPPED)
    assert len(problems) == 2
    assert problems[0].startswith("0002_alerts.sql was shipped and has been edited")
    assert f"new numbered file (after {more})" in problems[0]
    assert problems[1].startswith(f"{more} is new") and sha256(tmp_path / more) in problems[1]
