"""Readers for statistics publishers' own formats, one module per kind (`jsonstat`, `sdmx_csv`, `cbs_odata`,
`unodc_xlsx`, `oci_workbook`).

Each reader is a plain function `read(content: bytes, *, name: str) -> PublisherTable`: it knows the
format and the publisher's quirks, nothing of the catalog or the warehouse. Turning its rows into canonical
observations (curated indicator ids, unit conversion, source ids) happens once, for every reader, downstream.
"""
