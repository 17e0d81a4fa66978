"""Feed pipelines against a real HTTP server on 127.0.0.1: new, not modified, retried, oversize, wrong type."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from feed_server import FeedServer, Reply
from octracker.content.specs import load_spec
from octracker.errors import SpecError
from octracker.load.pipeline import refresh
from published import read_rows

ROOT = Path(__file__).resolve().parents[2]
PROFILE = (ROOT / "pipelines" / "documents" / "003_3261f147cc4f0198.txt").read_bytes()
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def write_feed_spec(
    settings,
    url: str,
    *,
    name: str = "goci_feed",
    extra: str = "",
    extractor: str = "oci_profile",
    fmt: str = "text",
    params: str = "",
) -> Path:
    """A pipeline spec reading the feed at `url` (plain http allowed for the loopback host only)."""
    path = settings.pipelines_dir / f"{name}.toml"
    path.write_text(
        textwrap.dedent(f"""\
        extractor = "{extractor}"
        schedule = "0 6 * * *"
        precedence = 60
        [source]
        source_id = "{name}"
        publisher = "Global Initiative Against Transnational Organized Crime"
        [params]
        edition = 2025
        countries = ["NL", "BE"]
        {params}
        [feed]
        url = "{url}"
        format = "{fmt}"
        allow_http_hosts = ["127.0.0.1"]
        {extra}
        """),
        encoding="utf-8",
    )
    return path


def published(settings, sql: str, params=None) -> list[tuple]:
    return read_rows(settings.published_path, sql, params)


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def test_new_content_is_loaded_and_an_unchanged_feed_costs_one_request(scratch_project, server):
    write_feed_spec(scratch_project, server.url("/profiles.txt"))
    server.script(Reply(200, {**TEXT, "ETag": '"v1"'}, PROFILE), Reply(304, {"ETag": '"v1"'}))
    [first] = refresh(scratch_project, ["goci_feed"])
    assert (first.status, first.counts.new) == ("success", 144)
    [second] = refresh(scratch_project, ["goci_feed"])
    assert (second.status, second.exit_code, second.counts.new) == ("unchanged", 0, 0)
    assert len(server.requests) == 2
    assert server.requests[1].headers["if-none-match"] == '"v1"'
    assert published(scratch_project, "SELECT status FROM runs WHERE pipeline = 'goci_feed'") == [
        ("success",),
        ("success",),
    ]
    state = published(scratch_project, "SELECT url, etag, http_status FROM feed_state")
    assert state == [(server.url("/profiles.txt"), '"v1"', 304)]
    # The body is a source like any document: kept by hash, with the feed's url as provenance.
    [(sha, url, file_name)] = published(
        scratch_project, "SELECT sha256, url, file_name FROM sources WHERE source_id = 'goci_feed'"
    )
    assert url == server.url("/profiles.txt") and file_name == "profiles.txt"
    assert (scratch_project.raw_dir / sha[:2] / f"{sha}.txt").read_bytes() == PROFILE


def test_the_same_body_without_validators_is_unchanged_by_its_hash(scratch_project, server):
    write_feed_spec(scratch_project, server.url("/profiles.txt"))
    server.script(Reply(200, TEXT, PROFILE), Reply(200, TEXT, PROFILE))
    refresh(scratch_project, ["goci_feed"])
    [again] = refresh(scratch_project, ["goci_feed"])
    assert again.status == "unchanged"
    assert published(scratch_project, "SELECT COUNT(*) FROM observation_history") == [(144,)]


def test_a_server_error_is_retried_and_the_second_answer_loaded(scratch_project, server):
    write_feed_spec(scratch_project, server.url("/profiles.txt"), extra="max_attempts = 2")
    server.script(Reply(500, TEXT, b"try later"), Reply(200, TEXT, PROFILE))
    [result] = refresh(scratch_project, ["goci_feed"])
    assert (result.status, result.counts.new) == ("success", 144)
    assert len(server.requests) == 2


def test_a_server_that_keeps_failing_fails_the_run_and_the_others_still_load(scratch_project, server):
    write_feed_spec(scratch_project, server.url("/profiles.txt"), extra="max_attempts = 1")
    server.script(Reply(503, TEXT, b"down"))
    results = {r.pipeline: r for r in refresh(scratch_project, ["goci_feed", "oci_2025_profiles"])}
    assert (results["goci_feed"].status, results["goci_feed"].exit_code) == ("failed", 1)
    assert "503" in results["goci_feed"].error
    assert results["oci_2025_profiles"].status == "success"


def test_an_oversize_body_is_refused_and_fetched_again_next_time(scratch_project, server):
    write_feed_spec(scratch_project, server.url("/profiles.txt"), extra="max_bytes = 1000")
    server.script(Reply(200, TEXT, PROFILE), Reply(200, TEXT, PROFILE))
    [result] = refresh(scratch_project, ["goci_feed"])
    assert (result.status, result.exit_code) == ("refused", 2)
    assert "larger than the limit of 1000 bytes" in result.error
    assert published(scratch_project, "SELECT check_name, payload FROM quarantine") == [
        ("feed_refused", server.url("/…"))  # the path may hold a token: never stored
    ]
    assert published(scratch_project, "SELECT COUNT(*) FROM feed_state") == [(0,)]
    # No state was saved, so the next run asks unconditionally instead of trusting a 304.
    refresh(scratch_project, ["goci_feed"])
    assert "if-none-match" not in server.requests[1].headers


def test_a_wrong_content_type_is_refused(scratch_project, server):
    write_feed_spec(scratch_project, server.url("/profiles.txt"))
    server.script(Reply(200, {"Content-Type": "text/html"}, b"<html>Log in</html>"))
    [result] = refresh(scratch_project, ["goci_feed"])
    assert result.status == "refused"
    assert "content type 'text/html'" in result.error
    assert published(scratch_project, "SELECT COUNT(*) FROM observations") == [(0,)]


def test_a_body_the_extractor_refuses_is_quarantined_and_state_not_saved(scratch_project, server):
    write_feed_spec(scratch_project, server.url("/profiles.txt"))
    server.script(Reply(200, {**TEXT, "ETag": '"bad"'}, PROFILE.replace(b"5.330.10", b"15.330.10", 1)))
    [result] = refresh(scratch_project, ["goci_feed"])
    assert result.status == "refused"
    assert published(scratch_project, "SELECT COUNT(*) FROM feed_state") == [(0,)]
    assert published(scratch_project, "SELECT COUNT(*) FROM quarantine WHERE pipeline = 'goci_feed'")[0][0] >= 1


def test_https_is_required_unless_the_spec_allows_the_plain_http_host(scratch_project):
    spec = write_feed_spec(scratch_project, "http://example.org/profiles.txt")
    with pytest.raises(SpecError, match=r"goci_feed\.toml: \[feed\] url must be https://"):
        load_spec(spec)
    allowed = write_feed_spec(scratch_project, "https://example.org/profiles.txt", name="ok_feed")
    assert load_spec(allowed).feed["url"] == "https://example.org/profiles.txt"


def test_a_feed_url_with_a_user_and_password_is_refused_when_the_spec_is_read(scratch_project, caplog):
    write_feed_spec(scratch_project, "https://reader:s3cret-pw@example.org/profiles.txt")
    result = run_cli(scratch_project, "refresh", "goci_feed")
    assert result.exit_code == 2, result.output
    assert "goci_feed.toml: [feed] url https://example.org/… carries a user name or password" in result.stderr
    assert "auth_env" in result.stderr
    shown = result.output + caplog.text
    assert "s3cret-pw" not in shown and "reader:" not in shown


def test_a_feed_spec_with_unknown_fields_or_a_document_is_refused(scratch_project):
    spec = write_feed_spec(scratch_project, "https://example.org/x.txt", extra='token = "secret"')
    with pytest.raises(SpecError, match=r"\[feed\] has unknown field\(s\) token"):
        load_spec(spec)
    both = scratch_project.pipelines_dir / "both.toml"
    both.write_text(
        'extractor = "narrative"\ndocument = "documents/002_1048ef5845389a1f.txt"\n'
        '[feed]\nurl = "https://example.org/x.txt"\n'
    )
    with pytest.raises(SpecError, match="either a document or a \\[feed\\], not both"):
        load_spec(both)
