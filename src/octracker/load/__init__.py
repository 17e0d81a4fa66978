"""Running pipelines: read, validate and load documents, tables, the inbox and feeds; the review queue."""
