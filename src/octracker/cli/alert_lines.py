"""Open alerts laid out for a terminal: one line per alert, or the full message in at most three lines."""

from __future__ import annotations

import textwrap

from octracker.serve.alert_text import next_step, short_message, statement

#: Lines one alert may take with --long (the first names it, the rest hold its message).
LONG_LINES = 3


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
