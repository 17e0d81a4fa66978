"""The warehouse: DuckDB or DuckLake connections, migrations and views, bitemporal history, runs, writers."""
