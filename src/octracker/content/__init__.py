"""What octracker knows as data: the catalog, pipeline specs, documents, curations, alert rules, places."""
