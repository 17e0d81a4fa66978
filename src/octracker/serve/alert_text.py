"""An alert in a few words, for a terminal line or a report's table: what moved, from what to what."""

from __future__ import annotations


def readable_number(value: float) -> str:
    """A number rounded to what it means: 1461, 86.56, 121.5, 0.0123."""
    size = abs(value)
    if value == int(value):
        return f"{int(value)}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def number(value: float, unit: str | None) -> str:
    """Index scores keep their two printed decimals (6.50); other numbers are rounded to what they mean."""
    return f"{value:.2f}" if unit == "score" else readable_number(value)


def amount(value: float | None, unit: str | None) -> str:
    if value is None:
        return "?"
    text = number(value, unit)
    return text if unit in (None, "", "count", "score") else f"{text} {unit}"


def short_message(alert: dict) -> str:
    """What moved, in a few words: '5.00 → 6.00 (+1.00) 2023→2025', or the message's first clause."""
    value, prev = alert.get("value"), alert.get("prev_value")
    if prev is not None and value is not None and alert.get("check_name") in ("edition_change", "yoy_change"):
        unit = alert.get("unit")
        parts = [f"{number(prev, unit)} → {amount(value, unit)}"]
        change, pct = alert.get("change"), alert.get("pct_change")
        # An index moves in points; other figures read best as a percentage.
        if unit != "score" and pct is not None:
            parts.append(f"({pct:+.1f} %)")
        elif change is not None:
            parts.append(f"({'+' if change > 0 else ''}{number(change, unit)})")
        years = (alert.get("prev_year"), alert.get("year"))
        if years[0] is not None and years[0] != years[1]:
            parts.append(f"{years[0]}→{years[1]}")
        return " ".join(parts)
    return statement(alert["message"]).split("; ")[0].rstrip(".")


def statement(message: str) -> str:
    """The message without its subject ('Cocaine seized (BEANR): ') and without its next step."""
    text = message.split(" Next: ", 1)[0]
    head, sep, rest = text.partition("): ")
    return rest if sep and len(head) < 80 else text


def next_step(message: str) -> str | None:
    _, sep, step = message.partition(" Next: ")
    return step if sep else None
