"""Every TOML file the project reads is refused the same way: its path, the line at fault, and what to do."""

from __future__ import annotations

import pytest

from octracker.content.alert_rules import load_alert_rules
from octracker.content.catalog import load_catalog
from octracker.content.documents import read_sidecar
from octracker.content.places import load_places
from octracker.content.specs import load_spec
from octracker.errors import SpecError
from octracker.tomlfiles import load_toml

BROKEN = 'name = "ok"\nbad = \n'


@pytest.mark.parametrize("reader", [load_catalog, load_places, load_spec, load_alert_rules])
def test_each_project_file_names_the_line_and_the_way_out(tmp_path, reader):
    path = tmp_path / "file.toml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(SpecError) as refused:
        reader(path)
    assert (
        str(refused.value) == f"{path}: not valid TOML at line 2, column 7 (Invalid value); fix the file and run again"
    )
    assert refused.value.exit_code == 2


def test_a_sidecar_may_be_fixed_or_removed(tmp_path):
    document = tmp_path / "doc.txt"
    document.write_text("text", encoding="utf-8")
    sidecar = tmp_path / "doc.txt.meta.toml"
    sidecar.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(
        SpecError, match=r"meta\.toml: not valid TOML at line 2, column 7 .*; fix the sidecar or remove it$"
    ):
        read_sidecar(document)


def test_a_file_not_in_utf8_names_its_line(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_bytes(b'a = 1\nb = "caf\xe9"\n')
    with pytest.raises(SpecError, match=r"rules\.toml: line 2: not UTF-8 text \(byte 14; save it as UTF-8\)"):
        load_toml(path)


def test_a_missing_file_says_what_the_caller_says(tmp_path):
    with pytest.raises(SpecError, match="indicator catalog not found; is --project pointing at the project folder"):
        load_catalog(tmp_path / "indicators.toml")
    with pytest.raises(FileNotFoundError):
        load_toml(tmp_path / "none.toml")


def test_an_unfinished_file_is_refused_at_its_end(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('name = "x"\n[table', encoding="utf-8")
    with pytest.raises(SpecError, match=r"spec\.toml: not valid TOML at (line 2|the end of the file)"):
        load_toml(path)


def large_catalog(indicators: int, *, unit: str = "count") -> str:
    """A catalog file of many indicators: large enough for its parse to be kept."""
    return "".join(
        f'[[indicator]]\nid = "ind_{n:04d}"\nname = "Indicator {n}"\nunit = "{unit}"\ndirection = "neutral"\n'
        f'frequency = "annual"\nmin = 0\nmax = 1e9\ndescription = "An indicator of the catalog, number {n}."\n\n'
        for n in range(indicators)
    )


def test_a_large_file_read_again_gives_what_it_gave_and_an_edit_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "indicators.toml"
    path.write_text(large_catalog(200), encoding="utf-8")
    first = load_catalog(path)
    assert list((tmp_path / "cache" / "octracker" / "toml-parses").glob("*.json")), "the parse of a large file is kept"
    again = load_catalog(path)
    assert again == first
    assert len(again.indicators) == 200 and again.indicators[0].max == 1e9
    # The same file edited: its new text is what is read, not the parse kept for the old one.
    path.write_text(large_catalog(200, unit="percent"), encoding="utf-8")
    edited = load_catalog(path)
    assert {i.unit for i in edited.indicators} == {"percent"}


def test_a_damaged_kept_parse_is_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "indicators.toml"
    path.write_text(large_catalog(200), encoding="utf-8")
    first = load_catalog(path)
    for kept in (tmp_path / "cache" / "octracker" / "toml-parses").glob("*.json"):
        kept.write_text('{"indicator": [', encoding="utf-8")
    assert load_catalog(path) == first


def test_a_large_file_with_dates_reads_its_dates_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "dated.toml"
    path.write_text("".join(f"day_{n} = 2024-01-{n % 28 + 1:02d}\n" for n in range(2000)), encoding="utf-8")
    for _ in range(2):
        assert str(load_toml(path)["day_0"]) == "2024-01-01" and type(load_toml(path)["day_5"]).__name__ == "date"
