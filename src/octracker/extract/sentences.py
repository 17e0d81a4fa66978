"""Sentences of a document with their exact text and line, and the normal form sentences are matched in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from octracker.extract.wording import ABBREVIATIONS

# Typographic marks that differ between a document and a spec typed by hand.
_QUOTES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
}
_DASHES = set("\u2010\u2011\u2012\u2013\u2014\u2015\u2212-")
_DROPPED = set("\u00ad\u200b\u200c\u200d\ufeff")
_OPENERS = set("\"'(\u201c\u2018[")
_CLOSERS = "\"'\u201d\u2019)]"

_TERMINAL = re.compile(r"[.!?]+[" + re.escape(_CLOSERS) + r"]*")
_INITIALISM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")


@dataclass(frozen=True)
class Sentence:
    """One sentence: its exact text, where it sits in the document, and its paragraph."""

    text: str
    start: int
    end: int
    line_no: int
    paragraph: int


def normalise(text: str) -> str:
    """The form two texts are compared in: plain quotes and dashes, single spaces, no spaces around dashes."""
    return normalise_with_map(text)[0]


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` and, for each of its characters, the index in `text` it came from."""
    out: list[str] = []
    where: list[int] = []
    after_dash = False
    for i, ch in enumerate(text):
        if ch in _DROPPED:
            continue
        if ch.isspace():
            if out and out[-1] != " " and not after_dash:
                out.append(" ")
                where.append(i)
            continue
        if ch in _DASHES:
            if out and out[-1] == " ":
                out.pop()
                where.pop()
            out.append("-")
            where.append(i)
            after_dash = True
            continue
        after_dash = False
        if ch == "\u2026":
            out.extend("...")
            where.extend([i] * 3)
            continue
        out.append(_QUOTES.get(ch, ch))
        where.append(i)
    if out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def flatten(text: str) -> str:
    """Single spaces and plain quotes, dashes kept: the form candidate proposals read."""
    text = "".join(_QUOTES.get(ch, ch) for ch in text if ch not in _DROPPED)
    return re.sub(r"\s+", " ", text).strip()


def split_sentences(text: str) -> list[Sentence]:
    """Split a document into sentences; a line break ends one unless the next line is a wrapped continuation."""
    sentences: list[Sentence] = []
    for number, (start, end) in enumerate(_paragraphs(text)):
        for s, e in _sentence_spans(text, start, end):
            sentences.append(Sentence(text[s:e], s, e, text.count("\n", 0, s) + 1, number))
    return sentences


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of paragraphs: runs of lines where each next line starts lower-case (a wrapped sentence)."""
    spans: list[tuple[int, int]] = []
    offset = 0
    current: list[int] | None = None
    for line in text.splitlines(keepends=True):
        body = line.strip()
        line_start, line_end = offset, offset + len(line.rstrip("\r\n"))
        offset += len(line)
        if not body:
            current = None
            continue
        if current is not None and body[0].islower():
            current[1] = line_end
            continue
        current = [line_start, line_end]
        spans.append(current)  # type: ignore[arg-type]
    return [(s, e) for s, e in spans]


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside one paragraph, trimmed of surrounding space."""
    spans = []
    cut = start
    for m in _TERMINAL.finditer(text, start, end):
        rest = text[m.end() : end]
        following = rest.lstrip()
        if following and (len(following) == len(rest) or not _starts_sentence(following)):
            continue
        if following and not _ends_sentence(text[cut : m.end()], m.group()):
            continue
        spans.append((cut, m.end()))
        cut = m.end()
    spans.append((cut, end))
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            trimmed.append((s, e))
    return trimmed


def _starts_sentence(following: str) -> bool:
    first = following[0]
    return first.isupper() or first.isdigit() or first in _OPENERS


def _ends_sentence(chunk: str, terminal: str) -> bool:
    """Whether the full stop that ends `chunk` ends a sentence rather than an abbreviation."""
    if not terminal.startswith(".") or len(terminal.rstrip(_CLOSERS)) > 1:
        return True
    word = chunk[: len(chunk) - len(terminal)].split()[-1] if chunk[: len(chunk) - len(terminal)].split() else ""
    word = word.lstrip("".join(_OPENERS))
    if word.lower() in ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isupper():
        return False
    if _INITIALISM.match(word):
        return not word.replace(".", "").isupper()
    return True


def find_sentence(text: str, sentences: list[Sentence], declared: str) -> tuple[int, int] | None:
    """Span in `text` of the sentence(s) holding `declared`, compared in normal form; None when absent."""
    target = normalise(declared)
    if not target:
        return None
    for s in sentences:
        if normalise(s.text) == target:
            return s.start, s.end
    # The splitter may cut differently from the person who typed the spec; the words still decide.
    norm, where = normalise_with_map(text)
    i = norm.find(target)
    if i < 0:
        return None
    start, end = where[i], where[i + len(target) - 1] + 1
    # Evidence is whole sentences: a passage is widened to the sentences it touches.
    touching = [s for s in sentences if s.start < end and s.end > start]
    if touching:
        start, end = min(start, touching[0].start), max(end, touching[-1].end)
    return start, end
