"""Extractors by name: each turns one document into canonical rows (and problems) for a pipeline spec.

Every entry takes `(document, spec, catalog)` and returns an `Extract`; a pipeline spec names one with
`extractor = "..."`, so a new source that reads like an existing one needs no engine change.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from octracker.catalog import Catalog
from octracker.documents import Document
from octracker.extractors.oci_profile import extract_oci_profile
from octracker.extracts import Extract, Problem
from octracker.specs import PipelineSpec

ExtractorFn = Callable[[Document, PipelineSpec, Catalog], Extract]

#: The canonical columns with their types, for extractors that yield no rows.
EMPTY_OBSERVATIONS = pl.DataFrame(
    schema={
        "indicator_id": pl.String, "geo": pl.String, "period_start": pl.Date, "period_end": pl.Date,
        "year": pl.Int32, "value": pl.Float64, "unit": pl.String, "qualifier": pl.String,
        "is_partial": pl.Boolean, "as_of": pl.Date, "source_id": pl.String, "method": pl.String,
        "evidence": pl.String, "note": pl.String,
    }
)


def extract_narrative(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
    """A document kept as a source and as evidence, with no figures to read (yet)."""
    try:
        document.text
    except UnicodeDecodeError as exc:
        return Extract(EMPTY_OBSERVATIONS.clone(), [Problem(
            check="not_utf8", message=f"not UTF-8 text (byte {exc.start}); save it as UTF-8", payload="")])
    return Extract(EMPTY_OBSERVATIONS.clone())


def extract_profile_document(document: Document, spec: PipelineSpec, catalog: Catalog) -> Extract:
    """An index country profile: the edition comes from the spec, the block countries from spec or sidecar."""
    countries = spec.params.get("countries") or spec.source.countries
    return extract_oci_profile(
        document.text, source_id=spec.source.source_id, edition=spec.params["edition"],
        previous_edition=spec.params.get("previous_edition"),
        countries=list(countries) if countries else None, catalog=catalog,
    )


EXTRACTORS: dict[str, ExtractorFn] = {
    "narrative": extract_narrative,
    "oci_profile": extract_profile_document,
}

__all__ = ["EXTRACTORS", "EMPTY_OBSERVATIONS", "extract_oci_profile"]
