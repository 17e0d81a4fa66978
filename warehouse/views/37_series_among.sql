-- series_among(geo, indicator_id, geos, indicator_ids, places): whether the series (indicator_id, geo) is
-- among those geos and indicators (each a list; NULL: all) and within those places (a list of places alerts follow,
-- each covering the geos that start with it, as in alert_places; NULL: all), the scope of yoy_changes_in,
-- edition_changes_in and alert_findings_in.
-- Grain: a scalar macro (one boolean per row it is given).
-- Inputs: none (its arguments).
-- Given constant lists, the condition reaches the table scan (DuckDB filters the rows it reads), as it does
-- written out in place: a macro is expanded where it is used. A list is searched element by element for each row
-- read, so `geos` suits the few geos a write touched; every series of the followed places is asked for by `places`,
-- one pattern (a few prefixes) matched per row, whatever the number of geos within them: a list of the ten
-- thousand geos of a neighbourhood table took minutes per scan of ten million rows.
-- Every argument is positional: a DuckLake catalog cannot keep a macro parameter with a default (NULL has no type).
CREATE OR REPLACE MACRO series_among(geo, indicator_id, geos, indicator_ids, places) AS
    (geos IS NULL OR list_contains(geos, geo)) AND (indicator_ids IS NULL OR list_contains(indicator_ids, indicator_id))
    AND (places IS NULL
         OR regexp_matches(geo, '^(?:' || array_to_string(list_transform(places, p -> regexp_escape(p)), '|') || ')'));
