-- Observation flags: the publisher's flags as published (Eurostat p/e/b/c and combinations, CBS Voorlopig as p),
-- NULL when none. A change of flags alone (a provisional value made final) is a new version.
ALTER TABLE observation_history ADD COLUMN flags VARCHAR;
