"""What a load did to the history, in numbers: what a run records and its summary prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadCounts:
    """How the incoming rows compared with what the warehouse already knew.

    `revised` rows state something else (see `STATEMENT_COLUMNS` in `octracker.store.history`); `unchanged` ones
    state the same, also when only its evidence, method or note moved (the history then holds a new version citing
    where it is now).
    """

    new: int = 0
    revised: int = 0
    unchanged: int = 0
    retracted: int = 0
