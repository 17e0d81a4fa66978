"""A pipeline spec's `[feed]` table: url, format and fetch limits, checked when the spec is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from octracker.errors import SpecError
from octracker.feeds import FeedSpec

#: format -> (file suffix the extractors recognise, content types accepted by default)
FEED_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "csv": (".csv", ("text/csv", "application/csv", "text/plain")),
    "parquet": (".parquet", ("application/vnd.apache.parquet", "application/x-parquet",
                             "application/octet-stream")),
    "json": (".json", ("application/json",)),
    "xlsx": (".xlsx", ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       "application/octet-stream")),
    "text": (".txt", ("text/plain",)),
}
FEED_FIELDS = {"url", "format", "accept", "max_bytes", "allow_http_hosts", "auth_env", "timeout_s", "max_attempts"}


@dataclass(frozen=True)
class FeedConfig:
    """A pipeline's feed: where and how to fetch it, and the format its body is in."""

    fetch: FeedSpec
    format: str

    @property
    def suffix(self) -> str:
        return FEED_FORMATS[self.format][0]


def read_feed_table(table: dict[str, Any], where: str) -> FeedConfig:
    """The spec's `[feed]` table, checked; errors name the spec file and the field."""
    unknown = set(table) - FEED_FIELDS
    if unknown:
        raise SpecError(f"{where}: [feed] has unknown field(s) {', '.join(sorted(unknown))}; "
                        f"allowed: {', '.join(sorted(FEED_FIELDS))}")
    if not isinstance(table.get("url"), str):
        raise SpecError(f"{where}: [feed] needs url = \"https://…\"")
    fmt = table.get("format", "csv")
    if fmt not in FEED_FORMATS:
        raise SpecError(f"{where}: [feed] format {fmt!r} is not one of {', '.join(FEED_FORMATS)}")
    options = {k: table[k] for k in ("max_bytes", "timeout_s", "max_attempts", "auth_env") if k in table}
    for name in ("accept", "allow_http_hosts"):
        if name in table:
            if not isinstance(table[name], list) or not all(isinstance(v, str) for v in table[name]):
                raise SpecError(f"{where}: [feed] {name} must be a list of strings")
            options[name] = tuple(table[name])
    options.setdefault("accept", FEED_FORMATS[fmt][1])
    try:
        fetch = FeedSpec(url=table["url"], **options)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise SpecError(f"{where}: [feed] has a field of the wrong type ({exc})") from None
    parts = urlsplit(fetch.url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and host and host in fetch.allow_http_hosts:
        return FeedConfig(fetch=fetch, format=fmt)
    if parts.scheme != "https" or not host:
        raise SpecError(f"{where}: [feed] url must be https://… (plain http only for a host listed in "
                        f"allow_http_hosts, e.g. allow_http_hosts = [\"{host or '127.0.0.1'}\"])")
    return FeedConfig(fetch=fetch, format=fmt)
