-- The publisher's vintage of the content a feed last loaded (Eurostat `updated`, SDMX `LAST UPDATE`, CBS
-- `TableInfos.Modified`): an answer of the same vintage is unchanged even when its bytes differ.
ALTER TABLE feed_state ADD COLUMN vintage TIMESTAMP;
