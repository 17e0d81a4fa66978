"""A pipeline spec's `[feed]` table: url, format and fetch limits, checked when the spec is loaded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from octracker.errors import SpecError
from octracker.httpclient import redact

DEFAULT_ACCEPT = (
    "text/csv",
    "application/vnd.apache.parquet",
    "application/octet-stream",
    "application/json",
    "text/plain",
)
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# Credentials come from the environment only, so a spec file must not carry them as headers.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


@dataclass(frozen=True)
class FeedSpec:
    """Where a feed lives and what octracker accepts from it.

    `auth_env` names an environment variable holding either `user:password` (sent as basic auth)
    or a bearer token (anything without a colon).
    """

    url: str
    accept: tuple[str, ...] = DEFAULT_ACCEPT
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_s: float = 30.0
    max_attempts: int = 4
    allow_http_hosts: tuple[str, ...] = ()
    auth_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"feed {redact(self.url)}"
        # Lists arrive from TOML/YAML; normalise so comparisons ignore case.
        object.__setattr__(self, "accept", tuple(t.strip().lower() for t in self.accept))
        object.__setattr__(self, "allow_http_hosts", tuple(h.strip().lower() for h in self.allow_http_hosts))
        if not self.accept:
            raise SpecError(f"{where}: accept is empty; list the content types the feed may answer with")
        if self.max_bytes <= 0:
            raise SpecError(f"{where}: max_bytes must be positive, got {self.max_bytes}")
        if self.timeout_s <= 0:
            raise SpecError(f"{where}: timeout_s must be positive, got {self.timeout_s}")
        if self.max_attempts < 1:
            raise SpecError(f"{where}: max_attempts must be at least 1, got {self.max_attempts}")
        secret = sorted(k for k in self.headers if k.lower() in _CREDENTIAL_HEADERS)
        if secret:
            raise SpecError(
                f"{where}: headers may not set {', '.join(secret)}; put credentials in an environment "
                "variable and name it in auth_env"
            )


#: format -> (file suffix the extractors recognise, content types accepted by default)
FEED_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "csv": (".csv", ("text/csv", "application/csv", "text/plain")),
    "parquet": (".parquet", ("application/vnd.apache.parquet", "application/x-parquet", "application/octet-stream")),
    "json": (".json", ("application/json",)),
    "xlsx": (
        ".xlsx",
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream"),
    ),
    "text": (".txt", ("text/plain",)),
    # Statistics publishers' own formats, read by the reader of the same kind (`extractor = "jsonstat"`).
    "jsonstat": (".json", ("application/json", "text/json")),
    "sdmx_csv": (".csv", ("text/csv", "application/vnd.sdmx.data+csv", "text/plain", "application/octet-stream")),
    # One CBS table is several OData answers: the feed fetches them and bundles them (a zip, see cbs_odata).
    "cbs_odata": (".zip", ("application/json",)),
    # A UNODC data portal export: its release date (row 2) is its vintage.
    "unodc_xlsx": (
        ".xlsx",
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream"),
    ),
    # The GI-TOC index workbook, downloaded: it states no update time, so its ETag / Last-Modified and its
    # content hash say whether it changed.
    "oci_workbook": (
        ".xlsx",
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream"),
    ),
}
#: Formats whose answers say when the publisher last updated them (`updated`, `LAST UPDATE`, `Modified`, the
#: UNODC release date): an answer with the vintage already loaded is unchanged, whatever its bytes.
PUBLISHER_FORMATS = frozenset({"jsonstat", "sdmx_csv", "cbs_odata", "unodc_xlsx"})
FEED_FIELDS = {
    "url",
    "format",
    "accept",
    "max_bytes",
    "allow_http_hosts",
    "auth_env",
    "timeout_s",
    "max_attempts",
    "snapshot",
}


@dataclass(frozen=True)
class FeedConfig:
    """A pipeline's feed: where and how to fetch it, and the format its body is in."""

    fetch: FeedSpec
    format: str
    #: A recorded answer shipped with the project (its provenance in its sidecar), loaded when the feed cannot
    #: be reached and nothing was loaded from it yet: the main job works offline.
    snapshot: Path | None = None

    @property
    def suffix(self) -> str:
        return FEED_FORMATS[self.format][0]


def read_feed_table(table: dict[str, Any], where: str) -> FeedConfig:
    """The spec's `[feed]` table, checked; errors name the spec file and the field."""
    unknown = set(table) - FEED_FIELDS
    if unknown:
        raise SpecError(
            f"{where}: [feed] has unknown field(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(FEED_FIELDS))}"
        )
    if not isinstance(table.get("url"), str):
        raise SpecError(f'{where}: [feed] needs url = "https://…"')
    try:
        netloc = urlsplit(table["url"]).netloc
    except ValueError:
        raise SpecError(f'{where}: [feed] url is not a valid url; write it as url = "https://host/path"') from None
    if "@" in netloc:
        # The url is named without its user and password: the message reaches logs and terminals.
        raise SpecError(
            f"{where}: [feed] url {redact(table['url'])} carries a user name or password; a spec file holds no "
            'secrets: remove them from the url, put "user:password" (or a bearer token) in an environment '
            'variable and name that variable in the [feed] table, e.g. auth_env = "FEED_CREDENTIALS"'
        )
    fmt = table.get("format", "csv")
    if fmt not in FEED_FORMATS:
        raise SpecError(f"{where}: [feed] format {fmt!r} is not one of {', '.join(FEED_FORMATS)}")
    options: dict[str, Any] = {
        k: table[k] for k in ("max_bytes", "timeout_s", "max_attempts", "auth_env") if k in table
    }
    for name in ("accept", "allow_http_hosts"):
        if name in table:
            if not isinstance(table[name], list) or not all(isinstance(v, str) for v in table[name]):
                raise SpecError(f"{where}: [feed] {name} must be a list of strings")
            options[name] = tuple(table[name])
    options.setdefault("accept", FEED_FORMATS[fmt][1])
    snapshot = None
    if "snapshot" in table:
        if not isinstance(table["snapshot"], str):
            raise SpecError(f'{where}: [feed] snapshot must be a path, e.g. snapshot = "snapshots/table.csv"')
        snapshot = (Path(where).parent / table["snapshot"]).resolve()
        if not snapshot.is_file():
            raise SpecError(f"{where}: [feed] snapshot {table['snapshot']!r} not found (looked at {snapshot})")
    try:
        fetch = FeedSpec(url=table["url"], **options)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise SpecError(f"{where}: [feed] has a field of the wrong type ({exc})") from None
    parts = urlsplit(fetch.url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and host and host in fetch.allow_http_hosts:
        return FeedConfig(fetch=fetch, format=fmt, snapshot=snapshot)
    if parts.scheme != "https" or not host:
        raise SpecError(
            f"{where}: [feed] url must be https://… (plain http only for a host listed in "
            f'allow_http_hosts, e.g. allow_http_hosts = ["{host or "127.0.0.1"}"])'
        )
    return FeedConfig(fetch=fetch, format=fmt, snapshot=snapshot)
