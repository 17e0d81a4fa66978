"""Numbers in prose: where they are, what they are worth, and the qualifier their wording gives them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from octracker.extract.wording import (
    FRACTION_WORDS,
    MULTIPLIERS,
    NUMBER_WORDS,
    QUALIFIER_FILLERS,
    QUALIFIER_WORDS,
)

# No leading zeros, so the "000" of a space-separated "100 000" is not read as a number of its own.
_DIGITS = r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?|(?:0|[1-9]\d*)(?:\.\d+)?"
_WORD_VALUES = {**NUMBER_WORDS, **FRACTION_WORDS}
_WORDS = "|".join(
    r"[ -]".join(re.escape(part) for part in word.split()) for word in sorted(_WORD_VALUES, key=len, reverse=True)
)
_NUMBER = re.compile(
    rf"(?:(?<![\w])(?<!\d[.,])(?P<digits>{_DIGITS})(?![\w])(?![.,]\d)"
    rf"|(?<![\w-])(?P<words>(?i:{_WORDS}))(?![\w-]))"
    rf"(?:\s+(?P<mult>{'|'.join(MULTIPLIERS)})\b)?"
)
_QUALIFIERS = [
    (re.compile(rf"(?<!\w){re.escape(phrase)}$"), qualifier)
    for phrase, qualifier in sorted(QUALIFIER_WORDS.items(), key=lambda item: -len(item[0]))
]
_FILLER = re.compile(rf"\s+(?:{'|'.join(QUALIFIER_FILLERS)})$")


@dataclass(frozen=True)
class NumberMention:
    """One number in a text: as written (with any multiplier word), its value and its span."""

    raw: str
    value: float
    start: int
    end: int
    in_words: bool
    scaled: bool

    @property
    def looks_like_year(self) -> bool:
        """Four plain digits from 1900 to 2100: a year unless a unit follows."""
        return not self.in_words and not self.scaled and re.fullmatch(r"(19|20)\d\d|2100", self.raw) is not None


def find_numbers(text: str) -> list[NumberMention]:
    """Every number in `text`, in digits or in words, left to right."""
    return [_mention(m) for m in _NUMBER.finditer(text)]


def first_number(text: str) -> NumberMention | None:
    """The first number in `text`, or None."""
    m = _NUMBER.search(text)
    return _mention(m) if m else None


def qualifier_before(text: str) -> str:
    """The qualifier that the words ending `text` give the number right after it ('exact' when none)."""
    tail = re.sub(r"\s+", " ", text.lower()).rstrip()
    for candidate in (tail, _FILLER.sub("", tail)):
        for pattern, qualifier in _QUALIFIERS:
            if pattern.search(candidate):
                return qualifier
    return "exact"


def _mention(m: re.Match) -> NumberMention:
    if m.group("digits"):
        value = float(m.group("digits").replace(",", ""))
    else:
        value = float(_WORD_VALUES[re.sub(r"[ -]+", " ", m.group("words").lower())])
    mult = m.group("mult")
    if mult:
        value *= MULTIPLIERS[mult]
    return NumberMention(m.group(), value, m.start(), m.end(), m.group("words") is not None, mult is not None)
