"""Extractors: pure functions from a document's text to canonical rows and problems, by spec kind."""

from octracker.extractors.articles import extract_declared_figures

EXTRACTORS = {"article_figures": extract_declared_figures}
