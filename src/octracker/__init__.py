"""octracker: organized-crime indicators from documents, tables and feeds into DuckDB time series."""

__version__ = "0.1.0"
