-- followed_geos: the places trend alerts are about, as the geos the warehouse holds.
-- Grain: one row per geo of observation_history that alerts follow.
-- Inputs: observation_history, alert_places.
-- A geo is followed when it starts with a place listed in alert_places (BE covers BE, BE-BRU and BEANR); with no
-- place listed, every geo is. The whole-world tables (the index workbook, UNODC, Eurostat) are loaded for ranks
-- and comparison: the alert checks read only the series of these geos (joined on geo, which is cheaper than
-- matching every series row against every place).
CREATE OR REPLACE VIEW followed_geos AS
SELECT g.geo
FROM (SELECT DISTINCT geo FROM observation_history) AS g
WHERE NOT EXISTS (SELECT 1 FROM alert_places)
   OR EXISTS (SELECT 1 FROM alert_places AS p WHERE starts_with(g.geo, p.place));
