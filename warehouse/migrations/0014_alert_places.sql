-- The places alerts are raised for, copied from `places` in schemas/alert_rules.toml on every run.
-- One row per place; a place covers every geo whose id starts with it (BE: BE-BRU, BEANR, BEANR+BEZEE).
-- No rows: every place raises alerts. Tables of every country (the index workbook, UNODC, Eurostat) are loaded
-- for ranks and comparison; only the places followed should raise alerts about them.
CREATE TABLE alert_places (
    place VARCHAR NOT NULL
);
