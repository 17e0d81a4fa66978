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
