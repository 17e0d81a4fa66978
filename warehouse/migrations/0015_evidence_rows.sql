-- Evidence by reference: a version read from a row of a large table keeps, instead of a copy of that row,
-- the row's number in `evidence_row`; its `evidence` then names the document once for every row of a load
-- (`<file> (sha256 <hex>) row`, or `line` for a CSV), and the views print `<evidence> <evidence_row>`.
-- The document's exact bytes are in the raw store under that sha256, and `octracker evidence` prints the row.
-- Null for every other version, whose `evidence` is the sentence or line itself.
ALTER TABLE observation_history ADD COLUMN evidence_row BIGINT;
