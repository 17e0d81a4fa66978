"""A catalog that maps a feed's native series anew takes effect at the next refresh, whatever the publisher does:
the answer loaded last is read again from the raw store (or the bundled snapshot, offline), never fetched again."""

from __future__ import annotations

from conftest import query, run_cli
from publisher_cases import EUROSTAT
from publisher_server import Route, publisher, refresh, write_spec  # noqa: F401 (publisher: a fixture)

UNE = EUROSTAT / "une-rt-m-geo-de-xx-since-2024-01.json"
UNE_NATIVE = "estat.une_rt_m.m.sa.total.pc_act.t"
SICK_LEAVE_NATIVE = "cbs.80072ned.t001081.m001924"


def map_native(settings, indicator: str, native: str, frequency: str) -> None:
    catalog = settings.schemas_dir / "indicators.toml"
    catalog.write_text(
        catalog.read_text(encoding="utf-8")
        + f'\n[[indicator]]\nid = "{indicator}"\nname = "{indicator}"\nunit = "percent"\ndirection = "up_is_bad"\n'
        f'frequency = "{frequency}"\nmin = 0\nmax = 100\nnative = ["{native}"]\n'
        '\n[[unit]]\nname = "percent"\npint = "percent"\naliases = ["%", "PC_ACT"]\n',
        encoding="utf-8",
    )


def curated(settings, indicator: str) -> int:
    return query(settings, "SELECT COUNT(*) FROM series WHERE indicator_id = ?", [indicator])[0][0]


def test_a_mapping_added_later_is_applied_to_the_answer_loaded_last(scratch_project, publisher):
    publisher.routes["/data/une_rt_m"] = Route(UNE.read_bytes(), etag='"v1"')
    write_spec(scratch_project, "estat_une", "jsonstat", publisher.url("/data/une_rt_m"))
    _, [first] = refresh(scratch_project, "estat_une")
    assert first["status"] == "success" and curated(scratch_project, "unemployment_rate") == 0
    map_native(scratch_project, "unemployment_rate", UNE_NATIVE, "monthly")
    _, [mapped] = refresh(scratch_project, "estat_une")
    assert (mapped["status"], mapped["new"], mapped["unchanged"]) == ("success", first["new"], first["new"])
    assert publisher.requests[-1][1].get("if-none-match") == '"v1"'  # asked, answered 304, read from the store
    assert curated(scratch_project, "unemployment_rate") == first["new"]
    # Under the same rules the next check is cheap again.
    _, [again] = refresh(scratch_project, "estat_une")
    assert again["status"] == "unchanged" and "304" in again["subject"]
    # The server gone and the mapping removed: the answer loaded last is read again, the copies retracted.
    catalog = scratch_project.schemas_dir / "indicators.toml"
    catalog.write_text(catalog.read_text(encoding="utf-8").split('\n[[indicator]]\nid = "unemployment_rate"')[0])
    publisher.close()
    done, [gone] = refresh(scratch_project, "estat_une")
    assert done.exit_code == 0 and gone["status"] == "unreachable" and "read its last answer again" in gone["subject"]
    assert curated(scratch_project, "unemployment_rate") == 0
    assert query(scratch_project, "SELECT COUNT(*) FROM series WHERE indicator_id = ?", [UNE_NATIVE]) == [
        (first["new"],)
    ]


def test_offline_a_mapping_added_later_reads_the_bundled_snapshot_again(scratch_project):
    done = run_cli(scratch_project, "refresh", "cbs_80072ned")
    assert done.exit_code == 0, done.output
    assert curated(scratch_project, "sick_leave_rate") == 0
    map_native(scratch_project, "sick_leave_rate", SICK_LEAVE_NATIVE, "quarterly")
    done, [mapped] = refresh(scratch_project, "cbs_80072ned")
    assert mapped["status"] == "unreachable" and "loaded the bundled snapshot" in mapped["subject"], done.output
    assert (
        curated(scratch_project, "sick_leave_rate")
        == query(scratch_project, "SELECT COUNT(*) FROM series WHERE indicator_id = ?", [SICK_LEAVE_NATIVE])[0][0]
        > 0
    )
    done, [kept] = refresh(scratch_project, "cbs_80072ned")
    assert kept["status"] == "unreachable" and "last data kept" in kept["subject"]
