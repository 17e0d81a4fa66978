-- series_among(geo, indicator_id, geos, indicator_ids, places): whether the series (indicator_id, geo) is
-- among those geos and indicators (each a list; NULL: all) and within those places (a list of places alerts follow,
-- each covering the geos that start with it, as in alert_places; NULL: all), the scope of yoy_changes_in,
-- edition_changes_in and alert_findings_in.
-- Grain: a scalar macro (one boolean per row it is given).
-- Inputs: none (its arguments).
-- The lists are looked up in a hash table (`IN (SELECT unnest(...))`, a semi join whose keys DuckDB also hands to
-- the table scan), so a list of ten thousand geos costs about what a list of one does: searching a list element by
-- element for each row read (list_contains) took minutes per scan of ten million rows against the ten thousand geos
-- of a neighbourhood table. `places` is one pattern (a few prefixes) matched per row, whatever the geos within them.
-- Every argument is positional: a DuckLake catalog cannot keep a macro parameter with a default (NULL has no type).
CREATE OR REPLACE MACRO series_among(geo, indicator_id, geos, indicator_ids, places) AS
    (geos IS NULL OR geo IN (SELECT unnest(geos)))
    AND (indicator_ids IS NULL OR indicator_id IN (SELECT unnest(indicator_ids)))
    AND (places IS NULL
         OR regexp_matches(geo, '^(?:' || array_to_string(list_transform(places, p -> regexp_escape(p)), '|') || ')'));
