"""Extractors by name: each turns one document into canonical rows (and problems) for a pipeline spec.

Every entry takes `(document, spec, catalog)` and returns an `Extract`; a pipeline spec names one with
`extractor = "..."`, so a new source that reads like an existing one needs no engine change.

Each extractor imports its reader when it runs: a publisher's file loads neither the profile and article parsers
(their patterns are compiled as they are imported) nor the table readers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from octracker.content.catalog import Catalog
from octracker.content.documents import Document, text_fault
from octracker.content.specs import PipelineSpec
from octracker.extract.publishers.canonical import publisher_extract
from octracker.extract.publishers.kinds import PUBLISHER_KINDS, source_id_of
from octracker.extracts import Extract, KnownRows, Problem, empty_observations

ExtractorFn = Callable[[Document, PipelineSpec, Catalog], Extract]


class SkippingExtractorFn(Protocol):
    """An extractor that also takes `known_rows=`, which tells the hashes of table rows to skip."""

    def __call__(
        self, document: Document, spec: PipelineSpec, catalog: Catalog, *, known_rows: KnownRows | None = None
    ) -> Extract: ...


NO_EDITION = Problem(
    check="no_edition",
    payload="",
    message="which index edition is this? set `edition` in the sidecar or pass --edition",
)


def refused(problem: Problem) -> Extract:
    """An extract that refuses the document for one reason."""
    return Extract(empty_observations(), [problem])


def decode_text(document: Document) -> str | Extract:
    """The document as text, or a refusal naming the first NUL byte or byte that is not UTF-8."""
    fault = text_fault(document.content)
    if fault is not None:
        return refused(Problem(check=fault[0], message=fault[1], payload=""))
    return document.text


def extract_narrative(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
    """A document kept as a source and as evidence, with no figures to read (yet)."""
    text = decode_text(document)
    return text if isinstance(text, Extract) else Extract(empty_observations())


def extract_index_profile(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
    """Index country profiles; edition and countries from the spec's params, else the sidecar."""
    text = decode_text(document)
    if isinstance(text, Extract):
        return text
    edition = spec.params.get("edition", spec.source.edition)
    if edition is None:
        return refused(NO_EDITION)
    # Editions are biennial: the change printed beside a score is since the edition two years earlier,
    # unless the spec or the sidecar says otherwise.
    previous = spec.params.get("previous_edition", spec.source.previous_edition or edition - 2)
    countries = spec.params.get("countries") or spec.source.countries
    from octracker.extract.oci_profile import extract_oci_profile

    return extract_oci_profile(
        text,
        source_id=spec.source_id,
        edition=edition,
        previous_edition=previous,
        countries=list(countries) if countries else None,
        catalog=catalog,
    )


def extract_article_figures(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
    """The figures a spec declares (`[[params.figures]]`), each read from the sentence it names."""
    text = decode_text(document)
    if isinstance(text, Extract):
        return text
    from octracker.extract.articles import extract_declared_figures

    return extract_declared_figures(
        text,
        figures=spec.params.get("figures", []),
        source_id=spec.source_id,
        catalog=catalog,
        document_name=document.path.name,
    )


def table_path(document: Document, spec: PipelineSpec) -> Path:
    """The file a table reader opens: the spec's document (for the inbox and feeds, a copy of exactly the
    bytes that were hashed, under the original file name), else the document's own path."""
    return spec.document or document.path


def extract_long_observations(
    document: Document, spec: PipelineSpec, catalog: Catalog, *, known_rows: KnownRows | None = None
) -> Extract:
    """A long table (CSV or Parquet): one row per indicator, geo and period; rows in `known_rows` are skipped."""
    # Its own module: `tables` also holds the wide index reader, which imports the workbook readers (fastexcel).
    from octracker.extract.long_table import extract_long_table

    return extract_long_table(
        table_path(document, spec),
        source_id=spec.source_id,
        catalog=catalog,
        known_rows=known_rows,
        document_sha256=document.sha256,
    )


def long_observation_batches(
    document: Document, spec: PipelineSpec, catalog: Catalog
) -> Callable[[], Iterator[Extract]] | None:
    """A large long table read in batches of rows (see `octracker.extract.tables.long_table_batches`); None: read it
    whole."""
    from octracker.extract.long_table import long_table_batches

    return long_table_batches(
        table_path(document, spec), source_id=spec.source_id, catalog=catalog, document_sha256=document.sha256
    )


def extract_wide_index_table(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
    """A wide index table (CSV or XLSX): one row per country; the edition from the spec or sidecar."""
    edition = spec.params.get("edition", spec.source.edition)
    if edition is None:
        return refused(NO_EDITION)
    from octracker.extract.tables import extract_wide_index

    return extract_wide_index(table_path(document, spec), source_id=spec.source_id, edition=edition, catalog=catalog)


def publisher_extractor(kind: str) -> ExtractorFn:
    """The extractor of a statistics publisher's format: its reader, then native and curated rows."""

    def extract_publisher_table(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
        table = PUBLISHER_KINDS[kind].read(document.content, name=document.path.name, catalog=catalog)
        return publisher_extract(
            table,
            source_id=spec.source.source_id or source_id_of(table),
            catalog=catalog,
            document=(table_path(document, spec).name, document.sha256),
        )

    return extract_publisher_table


#: Extractors that take `known_rows=`: the hashes of rows to skip, as `octracker.extract.long_table` explains.
READS_KNOWN_ROWS: dict[str, SkippingExtractorFn] = {"observations_long": extract_long_observations}
#: Extractors that can read a large table in batches, for a first load whose memory follows the batch. Such a reader
#: looks for repeated keys over the whole table itself (its last batch says so), not in each batch, and checks each
#: row's indicator, unit and value against the catalog (a row that fails is a problem of its batch).
READS_IN_BATCHES: dict[str, Callable[[Document, PipelineSpec, Catalog], Callable[[], Iterator[Extract]] | None]] = {
    "observations_long": long_observation_batches
}

EXTRACTORS: dict[str, ExtractorFn] = {
    "observations_long": extract_long_observations,
    "oci_wide": extract_wide_index_table,
    "article_figures": extract_article_figures,
    "narrative": extract_narrative,
    "oci_profile": extract_index_profile,
    # A statistics publisher's format reads without a spec: `extractor = "jsonstat"`, `--kind jsonstat`.
    **{kind: publisher_extractor(kind) for kind in PUBLISHER_KINDS},
}
