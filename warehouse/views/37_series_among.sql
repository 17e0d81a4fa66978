-- series_among(geo, indicator_id, geos, indicator_ids): whether the series (indicator_id, geo) is among those geos
-- and indicators (each a list; NULL: all), the scope of yoy_changes_in, edition_changes_in and alert_findings_in.
-- Grain: a scalar macro (one boolean per row it is given).
-- Inputs: none (its arguments).
-- Given constant lists, the condition reaches the table scan (DuckDB filters the rows it reads), as it does
-- written out in place: a macro is expanded where it is used.
CREATE OR REPLACE MACRO series_among(geo, indicator_id, geos, indicator_ids) AS
    (geos IS NULL OR list_contains(geos, geo)) AND (indicator_ids IS NULL OR list_contains(indicator_ids, indicator_id));
