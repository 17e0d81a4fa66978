-- Groups of geographies as data: the countries an aggregate stands for, so that views rank or summarise
-- "within the EU" from one list instead of a list written into each view.
-- One row per (group_id, geo). `EU27_2020` is Eurostat's code for the European Union of the 27 members it has
-- had since the United Kingdom left (1 February 2020); members by ISO 3166-1 alpha-2 (Greece is GR, not EL).
-- A change of membership is a new group with its own id, added by a new migration.
CREATE TABLE geo_groups (
    group_id VARCHAR NOT NULL,
    geo VARCHAR NOT NULL
);

INSERT INTO geo_groups (group_id, geo) VALUES
    ('EU27_2020', 'AT'), ('EU27_2020', 'BE'), ('EU27_2020', 'BG'), ('EU27_2020', 'CY'), ('EU27_2020', 'CZ'),
    ('EU27_2020', 'DE'), ('EU27_2020', 'DK'), ('EU27_2020', 'EE'), ('EU27_2020', 'ES'), ('EU27_2020', 'FI'),
    ('EU27_2020', 'FR'), ('EU27_2020', 'GR'), ('EU27_2020', 'HR'), ('EU27_2020', 'HU'), ('EU27_2020', 'IE'),
    ('EU27_2020', 'IT'), ('EU27_2020', 'LT'), ('EU27_2020', 'LU'), ('EU27_2020', 'LV'), ('EU27_2020', 'MT'),
    ('EU27_2020', 'NL'), ('EU27_2020', 'PL'), ('EU27_2020', 'PT'), ('EU27_2020', 'RO'), ('EU27_2020', 'SE'),
    ('EU27_2020', 'SI'), ('EU27_2020', 'SK');
