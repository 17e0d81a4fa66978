"""Open alerts laid out for a terminal: one line per alert, or the full message in at most three lines."""

from __future__ import annotations

import textwrap

from octracker.cli.output import readable_number

#: Lines one alert may take with --long (the first names it, the rest hold its message).
LONG_LINES = 3


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
        change = alert.get("change")
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


def cut(text: str, width: int) -> str:
    """Text in at most `width` characters, ending in '…' when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def alert_lines(alerts: list[dict], width: int) -> list[str]:
    """A header and one line per alert within `width`: severity, place, indicator, what moved.

    The indicator column takes at most a quarter of the line; a cut id or message ends in '…'.
    """
    rows = [(a["severity"], a["geo"], a["indicator_id"], short_message(a)) for a in alerts]
    header = ("severity", "geo", "indicator", "what")
    sizes = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    sizes[1] = min(sizes[1], 12)
    sizes[2] = min(sizes[2], max(12, width // 4))
    lines = []
    for row in [header, *rows]:
        fixed = "  ".join(cut(cell, size).ljust(size) for cell, size in zip(row, sizes))
        lines.append(cut(f"{fixed}  {row[3]}", width).rstrip())
    return lines


def long_alert_lines(alerts: list[dict], width: int) -> list[str]:
    """Each alert in at most LONG_LINES lines of `width`; the next step of each rule once, at the end."""
    lines: list[str] = []
    steps: dict[str, str] = {}
    for a in alerts:
        head = f"{a['severity']} {a['geo']} {a['indicator_id']} ({a['rule']}): "
        wrapped = textwrap.wrap(head + statement(a["message"]), width=width, subsequent_indent="  ")
        if len(wrapped) > LONG_LINES:
            wrapped = wrapped[:LONG_LINES]
            last = wrapped[-1]
            wrapped[-1] = (last[: width - 1] if len(last) >= width else last) + "…"
        lines.extend(wrapped)
        step = next_step(a["message"])
        if step and a["rule"] not in steps:
            steps[a["rule"]] = step
    if steps:
        lines.append("")
        lines.append("Next steps:")
        for rule, step in steps.items():
            lines.extend(textwrap.wrap(f"{rule}: {step}", width=width, subsequent_indent="  "))
    return lines
