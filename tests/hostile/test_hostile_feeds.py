"""Bad bodies from an HTTP feed (a real server on 127.0.0.1): refused whole, named, kept, and nothing changed.

What must hold after every case: `octracker refresh PIPELINE` exits 2 naming the pipeline (or the fetched file)
and the problem; the warehouse is unchanged (`runs` and `quarantine` grow by the refusal; the feed state is
not saved, so the next run fetches and checks the body again); the body that was read is kept in the raw
store under its content hash; a body refused for its size is never read past the limit.
"""

from __future__ import annotations

import gzip
import hashlib
import textwrap
from dataclasses import dataclass, field

import pytest
from hostile_fixtures import CASES, baseline, cli, loaded_scratch  # noqa: F401
from hostile_inputs import GOOD_CSV, zip_bomb
from warehouse_state import assert_unchanged, snapshot

from feed_server import FeedServer, Reply
from octracker.store.warehouse import publish_spare_path

LIMIT = 1 << 20  # max_bytes of the test feeds
GIB = 1 << 30
CSV = {"Content-Type": "text/csv"}


def add_feed_spec(
    settings, url: str, *, fmt: str = "csv", extractor: str = "observations_long", params: str = ""
) -> str:
    name = "hostile_feed"
    (settings.pipelines_dir / f"{name}.toml").write_text(
        textwrap.dedent(f"""\
        extractor = "{extractor}"
        precedence = 80
        [source]
        source_id = "hostile-feed"
        publisher = "Hostile Statistics"
        [feed]
        url = "{url}"
        format = "{fmt}"
        allow_http_hosts = ["127.0.0.1"]
        max_attempts = 1
        max_bytes = {LIMIT}
        """)
        + params,
        encoding="utf-8",
    )
    return name


def gigabyte_of_chunks():
    chunk = b"indicator,geo,period,value,unit\n" * 2048
    for _ in range(GIB // len(chunk)):
        yield chunk


@dataclass(frozen=True)
class BadBody:
    id: str
    reply: Reply
    check: str
    says: str
    fmt: str = "csv"
    extractor: str = "observations_long"
    params: str = ""
    kept: bool = True  # whether the body was read whole, so the raw store keeps it
    path: str = "/shootings.csv"
    extra: dict = field(default_factory=dict)


def body_of(reply: Reply) -> bytes:
    return reply.body if isinstance(reply.body, bytes) else b""


def table(name: str) -> bytes:
    return (CASES / "tables" / name).read_bytes()


BAD_BODIES = [
    BadBody("empty", Reply(200, CSV, b""), "empty_file", "the file is empty"),
    BadBody("binary", Reply(200, CSV, bytes(range(256)) * 8), "binary_file", "NUL byte at line 1"),
    BadBody("nul", Reply(200, CSV, table("long_nul.csv")), "binary_file", "NUL byte at line 3"),
    BadBody("latin1", Reply(200, CSV, table("long_latin1.csv")), "not_utf8", "byte 0xE8 at line 3"),
    BadBody("ragged", Reply(200, CSV, table("long_ragged.csv")), "ragged_row", "expected 5 fields"),
    BadBody("types", Reply(200, CSV, table("long_wrong_types.csv")), "bad_number", "not a plain decimal number"),
    BadBody("keys", Reply(200, CSV, table("long_duplicates.csv")), "duplicate_key", "as line 2"),
    BadBody("formula", Reply(200, CSV, table("long_formula.csv")), "formula_injection", "run it as a formula"),
    BadBody(
        "range",
        Reply(200, CSV, GOOD_CSV.replace(b"2024,92,count", b"2024,1e12,count")),
        "out_of_range",
        "outside the catalog range",
    ),
    BadBody(
        "html",
        Reply(200, {"Content-Type": "text/html"}, b"<html>login</html>"),
        "feed_refused",
        "answered with content type 'text/html'",
        kept=False,
    ),
    BadBody(
        "json",
        Reply(200, {"Content-Type": "application/json"}, b'{"observations": [1, 2'),
        "refused",
        "not valid JSON",
        fmt="json",
    ),
    BadBody(
        "declared-1-gb",
        Reply(200, CSV, b"", content_length=GIB),
        "feed_refused",
        f"(Content-Length: {GIB}) is larger than the limit of {LIMIT} bytes",
        kept=False,
    ),
    BadBody(
        "streamed-1-gb",
        Reply(200, CSV, gigabyte_of_chunks, chunked=True),
        "feed_refused",
        f"the response is larger than the limit of {LIMIT} bytes",
        kept=False,
    ),
    BadBody(
        "gzip-bomb",
        Reply(200, {**CSV, "Content-Encoding": "gzip"}, gzip.compress(bytes(64 << 20), 9)),
        "feed_refused",
        f"larger than the limit of {LIMIT} bytes",
        kept=False,
    ),
    BadBody(
        "xlsx-bomb",
        Reply(200, {"Content-Type": "application/octet-stream"}, b""),
        "zip_bomb",
        "the workbook would expand",
        fmt="xlsx",
        extractor="oci_wide",
        params="[params]\nedition = 2025\n",
        path="/index.xlsx",
    ),
    BadBody(
        "dotdot-name",
        Reply(200, CSV, table("long_ragged.csv")),
        "ragged_row",
        "expected 5 fields",
        path="/data/..%2F..%2F..%2Fevil.csv",
    ),
]


@pytest.mark.parametrize("bad", BAD_BODIES, ids=[b.id for b in BAD_BODIES])
def test_a_bad_feed_body_is_refused_whole_named_and_kept(loaded_scratch, bad):
    settings = loaded_scratch
    reply = bad.reply
    if bad.id == "xlsx-bomb":
        reply = Reply(200, reply.headers, zip_bomb())
    with FeedServer() as server:
        server.script(reply)
        name = add_feed_spec(settings, server.url(bad.path), fmt=bad.fmt, extractor=bad.extractor, params=bad.params)
        before = snapshot(settings.warehouse)
        result = cli(settings, "refresh", name)
        server.wait_finished(1)
        [seen] = server.requests
    assert result.exit_code == 2, result.output
    assert bad.check in result.stderr and bad.says in result.stderr, result.stderr
    assert_unchanged(settings.warehouse, before)
    after = snapshot(settings.warehouse)
    assert after.counts["runs"] == before.counts["runs"] + 1 and after.counts["feed_state"] == 0
    assert after.counts["quarantine"] > before.counts["quarantine"]
    body = body_of(reply)
    stored = {p.read_bytes() for p in settings.raw_dir.rglob("*") if p.is_file()}
    if bad.kept:
        assert body in stored  # the refused body, kept byte for byte under its hash
        assert (settings.raw_dir / hashlib.sha256(body).hexdigest()[:2]).is_dir()
    else:
        assert seen.body_bytes_sent < 8 * LIMIT  # the client hung up near the limit: never a gigabyte
    # Whatever the URL's name says, nothing is written outside the warehouse, the raw store and the published copy
    # (with its spare).
    written = {p.relative_to(settings.data_dir).parts[0] for p in settings.data_dir.rglob("*")}
    spare = publish_spare_path(settings.published_path).name
    assert written <= {"octracker.duckdb", "octracker.duckdb.wal", "published", spare, "raw", ".alerts-send.lock"}
    assert not list(settings.project.parent.rglob("evil.csv"))


def test_a_refused_feed_is_fetched_and_checked_again_next_time_then_loads(loaded_scratch):
    settings = loaded_scratch
    with FeedServer() as server:
        server.script(
            Reply(200, {**CSV, "ETag": '"v1"'}, table("long_ragged.csv")), Reply(200, {**CSV, "ETag": '"v2"'}, GOOD_CSV)
        )
        name = add_feed_spec(settings, server.url())
        assert cli(settings, "refresh", name).exit_code == 2
        second = cli(settings, "refresh", name)
        assert second.exit_code == 0, second.stderr
        # The refusal saved no validators, so the second request was a plain GET, not a 304 trap.
        assert "if-none-match" not in server.requests[1].headers
