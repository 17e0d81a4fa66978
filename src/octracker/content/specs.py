"""Pipeline specs (`pipelines/*.toml`): what to read, with which extractor, its provenance and schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octracker.content.curation import Curation, read_curations
from octracker.content.documents import SourceMeta, meta_from_mapping, read_sidecar_mapping
from octracker.content.feed_specs import read_feed_table
from octracker.errors import SpecError, UsageError
from octracker.tomlfiles import load_toml

#: Pipelines with no spec of their own: files dropped in the inbox, and a person's review decisions.
INBOX_PIPELINE = "inbox"
REVIEW_PIPELINE = "review"

SPEC_FIELDS = {
    "name",
    "description",
    "extractor",
    "document",
    "inbox",
    "feed",
    "schedule",
    "precedence",
    "source",
    "params",
    "full_snapshot",
    "enabled",
    "curation",
}
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
#: Defaults by kind of source: statistics offices beat the index, the index beats the press.
DEFAULT_PRECEDENCE = 50
#: The scheduler's own jobs (see `octracker.schedule.scheduler`): a pipeline's job is named by its pipeline, and a
#: failed or missed job is recorded in `runs` under that name.
ALERTS_JOB = "alerts_send"
RECORD_JOB = "record_missed_runs"
RELOAD_JOB = "reload_pipelines"
#: Names the engine gives its own implicit pipelines (the inbox runs after the spec pipelines; review decisions are
#: runs of their own) and the scheduler's own jobs: a spec of one of these names would be taken for them.
RESERVED_NAMES = {INBOX_PIPELINE, REVIEW_PIPELINE, ALERTS_JOB, RECORD_JOB, RELOAD_JOB}


@dataclass(frozen=True)
class PipelineSpec:
    """One source's pipeline, as declared in its spec file."""

    name: str
    path: Path
    extractor: str
    description: str = ""
    document: Path | None = None
    schedule: str | None = None
    precedence: int = DEFAULT_PRECEDENCE
    #: Provenance from the document's sidecar, overridden by the spec's [source] table.
    source: SourceMeta = field(default_factory=SourceMeta)
    params: dict[str, Any] = field(default_factory=dict)
    #: Each run states the source's whole content, so a row it no longer states is retracted.
    full_snapshot: bool = True
    feed: dict[str, Any] | None = None
    enabled: bool = True
    #: Figures this source states that belong to another geography or indicator (`[[curation]]`).
    curations: tuple[Curation, ...] = ()

    @property
    def source_id(self) -> str:
        """The source this pipeline loads: a document spec must name one (checked when it is read)."""
        if not self.source.source_id:
            raise SpecError(f"{self.path}: no source_id: set it in [source] or in the document's sidecar")
        return self.source.source_id

    @property
    def document_path(self) -> Path:
        """The document a document spec reads."""
        if self.document is None:
            raise SpecError(f'{self.path}: no document to read; set `document = "file"` or a [feed] table')
        return self.document


def load_spec(path: Path) -> PipelineSpec:
    """Read one spec file and check it; errors name the file and the field."""
    raw = load_toml(path)
    unknown = set(raw) - SPEC_FIELDS
    if unknown:
        raise SpecError(
            f"{path}: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(SPEC_FIELDS))}"
        )
    name = raw.get("name", path.stem)
    if not NAME_PATTERN.match(name):
        raise SpecError(f"{path}: pipeline name {name!r} must be snake_case (a-z, 0-9, _)")
    if name in RESERVED_NAMES:
        raise SpecError(
            f"{path}: pipeline name {name!r} is reserved for the engine's own runs and scheduled jobs "
            f"({', '.join(sorted(RESERVED_NAMES))}); rename the spec"
        )
    snapshot = None
    if "feed" in raw:
        if "document" in raw:
            raise SpecError(
                f"{path}: a spec reads either a document or a [feed], not both (a recorded answer for working "
                "offline is the feed's `snapshot`)"
            )
        snapshot = read_feed_table(raw["feed"] if isinstance(raw["feed"], dict) else {}, str(path)).snapshot
    if "extractor" not in raw:
        raise SpecError(f'{path}: missing `extractor` (e.g. extractor = "oci_profile")')
    precedence = raw.get("precedence", DEFAULT_PRECEDENCE)
    if not isinstance(precedence, int):
        raise SpecError(f"{path}: precedence must be an integer (higher wins), not {precedence!r}")
    document = None
    sidecar: dict[str, Any] = {}
    if "document" in raw:
        document = (path.parent / raw["document"]).resolve()
        if not document.exists():
            raise SpecError(f"{path}: document {raw['document']!r} not found (looked at {document})")
        sidecar = read_sidecar_mapping(document)
    elif snapshot is not None:
        # The snapshot's sidecar names the source (the live feed states the same series).
        sidecar = read_sidecar_mapping(snapshot)
    # The spec's [source] table overrides the sidecar field by field.
    meta = meta_from_mapping({**sidecar, **raw.get("source", {})}, f"{path} (with the document's sidecar)")
    if document is not None and not meta.source_id:
        raise SpecError(f"{path}: no source_id: set it in [source] or in the document's sidecar")
    return PipelineSpec(
        name=name,
        path=path,
        extractor=raw["extractor"],
        description=raw.get("description", ""),
        document=document,
        schedule=raw.get("schedule"),
        precedence=precedence,
        source=meta,
        params=dict(raw.get("params", {})),
        full_snapshot=bool(raw.get("full_snapshot", True)),
        feed=raw.get("feed"),
        enabled=bool(raw.get("enabled", True)),
        curations=read_curations(raw.get("curation"), str(path)),
    )


def load_specs(pipelines_dir: Path) -> list[PipelineSpec]:
    """Every spec in the folder, sorted by name; two specs with one name are refused."""
    if not pipelines_dir.is_dir():
        raise SpecError(f"{pipelines_dir}: no pipelines folder; run from the project folder or pass --project")
    specs = [load_spec(p) for p in sorted(pipelines_dir.glob("*.toml"))]
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.name in seen:
            raise SpecError(f"{spec.path}: pipeline name {spec.name!r} is also used by {seen[spec.name]}")
        seen[spec.name] = spec.path
    return sorted(specs, key=lambda s: s.name)


def select_specs(specs: list[PipelineSpec], names: tuple[str, ...] | list[str]) -> list[PipelineSpec]:
    """The named pipelines (all enabled ones when none named); an unknown name is a usage error."""
    if not names:
        return [s for s in specs if s.enabled]
    by_name = {s.name: s for s in specs}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UsageError(f"unknown pipeline(s): {', '.join(unknown)}; known: {', '.join(by_name) or 'none'}")
    return [by_name[n] for n in names]
