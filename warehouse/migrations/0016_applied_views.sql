-- The views as last applied: one row holding the sha256 of the view files (names and text), of the migrations
-- applied and of the DuckDB version that applied them. A writer whose files give the same sha256 re-applies no
-- view (binding every view again cost about 0.1 s a run); any change to them re-applies them all.
CREATE TABLE applied_views (
    sha256 VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
