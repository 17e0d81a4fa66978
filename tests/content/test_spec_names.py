"""A pipeline spec may not take a name the engine gives its own runs or the scheduler its own jobs: its runs and
its scheduled job would be taken for theirs (a failed scheduled job is recorded in `runs` under its job's name)."""

from __future__ import annotations

import pytest

from octracker.content.specs import load_spec, load_specs
from octracker.errors import SpecError

SPEC = 'description = "A test table"\nextractor = "observations_long"\ndocument = "documents/t.csv"\n'


@pytest.mark.parametrize("name", ["inbox", "review", "alerts_send", "record_missed_runs", "reload_pipelines"])
def test_a_spec_named_like_the_engines_own_runs_or_jobs_is_refused_naming_the_file(tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(SPEC, encoding="utf-8")
    with pytest.raises(SpecError) as refused:
        load_spec(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: pipeline name {name!r} is reserved")
    assert "rename the spec" in message


def test_the_name_field_is_checked_as_the_file_name_is(tmp_path):
    (tmp_path / "police_table.toml").write_text(f'name = "alerts_send"\n{SPEC}', encoding="utf-8")
    with pytest.raises(SpecError, match="'alerts_send' is reserved"):
        load_specs(tmp_path)
    (tmp_path / "police_table.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "t.csv").write_text("indicator,geo,period,value,unit\n", encoding="utf-8")
    (tmp_path / "documents" / "t.csv.meta.toml").write_text(
        'source_id = "police-table"\nkind = "observations_long"\ntitle = "A table"\npublisher = "Police (test)"\n'
        'published = "2026-01-15"\n',
        encoding="utf-8",
    )
    assert [spec.name for spec in load_specs(tmp_path)] == ["police_table"]
