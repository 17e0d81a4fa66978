"""Extractors: functions that turn one source file into canonical observation rows plus problems."""

from __future__ import annotations

from octracker.extractors.tables import extract_long_table, extract_wide_index

#: Extractor by source kind (the sidecar's `kind`). Table readers take `path`, `source_id`, `catalog`;
#: `oci_wide` also needs `edition`.
EXTRACTORS = {
    "observations_long": extract_long_table,
    "oci_wide": extract_wide_index,
}
