"""Open alerts laid out for a terminal: one line per alert, or the full message in at most three lines."""

from __future__ import annotations

import textwrap

from octracker.serve.alert_text import next_step, short_message, statement

#: Lines one alert may take with --long (the first names it, the rest hold its message).
LONG_LINES = 3


def cut(text: str, width: int) -> str:
    """Text in at most `width` characters, ending in '…' when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


#: Hex digits of a fingerprint shown as an alert's id (`alerts mute` takes 8 or more).
ID_DIGITS = 8


def alert_lines(alerts: list[dict], width: int, *, with_ids: bool = False) -> list[str]:
    """A header and one line per alert within `width`: severity, place, indicator, what moved.

    The indicator column takes at most a quarter of the line; a cut id or message ends in '…'. `with_ids`
    puts each alert's id (its fingerprint's first ID_DIGITS digits) first, and under a muted alert a second
    line with its silence: until when, by whom and why.
    """
    header: tuple[str, ...] = ("severity", "geo", "indicator", "what")
    rows: list[tuple[str, ...]] = [(a["severity"], a["geo"], a["indicator_id"], short_message(a)) for a in alerts]
    if with_ids:
        header = ("id", *header)
        rows = [(a["fingerprint"][:ID_DIGITS], *row) for a, row in zip(alerts, rows)]
    first = len(header) - 4  # where severity is
    sizes = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    sizes[first + 1] = min(sizes[first + 1], 12)
    sizes[first + 2] = min(sizes[first + 2], max(12, width // 4))
    lines = [row_line(header, sizes, width)]
    for alert, row in zip(alerts, rows):
        lines.append(row_line(row, sizes, width))
        if with_ids and alert.get("muted_until") is not None:
            silence = f"muted until {alert['muted_until']:%Y-%m-%d %H:%M} UTC by {alert['muted_by']}: "
            lines.append(cut(" " * (sizes[0] + 2) + silence + alert["muted_reason"], width))
    return lines


def row_line(row: tuple[str, ...], sizes: list[int], width: int) -> str:
    fixed = "  ".join(cut(cell, size).ljust(size) for cell, size in zip(row, sizes))
    return cut(f"{fixed}  {row[-1]}", width).rstrip()


def long_alert_lines(alerts: list[dict], width: int) -> list[str]:
    """Each alert in at most LONG_LINES lines of `width`; the next step of each rule once, at the end."""
    lines: list[str] = []
    steps: dict[str, str] = {}
    for a in alerts:
        head = f"{a['severity']} {a['geo']} {a['indicator_id']} ({a['rule']}): "
        if a.get("muted_until") is not None:
            head += f"[muted until {a['muted_until']:%Y-%m-%d %H:%M} UTC by {a['muted_by']}: {a['muted_reason']}] "
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
