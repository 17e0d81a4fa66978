"""Alerts after the views found them: the outbox of events and their delivery to webhooks."""
