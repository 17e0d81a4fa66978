"""HTTP as octracker speaks it to feeds and webhooks: what URLs may be shown in messages and logs."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx


def redact(url: str | httpx.URL) -> str:
    """The URL without userinfo, query or fragment, safe to put in messages and logs."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparseable url>"
    host = parts.netloc.rpartition("@")[2]
    if not parts.scheme:
        return parts.path or "<empty url>"
    return f"{parts.scheme}://{host}{parts.path}"
