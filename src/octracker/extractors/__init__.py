"""Extractors by document kind: each turns a document's text into canonical rows and problems."""

from __future__ import annotations

from octracker.extractors.oci_profile import extract_oci_profile

#: The extractor for each document `kind` a sidecar or `--kind` may name.
EXTRACTORS = {
    "oci_profile": extract_oci_profile,
}

__all__ = ["EXTRACTORS", "extract_oci_profile"]
