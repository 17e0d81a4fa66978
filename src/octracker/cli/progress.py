"""Progress bars for long work, drawn on stderr only when a person is watching a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

#: update(done, total, what was just finished)
ProgressUpdate = Callable[[int, int, str], None]


def _ignore(done: int, total: int, item: str) -> None:
    return None


@contextlib.contextmanager
def progress_bar(app, description: str, total: int | None = None, *, enabled: bool = True) -> Iterator[ProgressUpdate]:
    """Yield an update function; nothing is drawn under --quiet, for JSON output, or when stderr is not a
    terminal (cron, CI, pipes), so logs and captured output stay clean. The bar clears itself when done."""
    if not enabled or app.quiet or not app.err.is_terminal:
        yield _ignore
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[item]}", markup=False),
    )
    with Progress(*columns, console=app.err, transient=True) as progress:
        task = progress.add_task(description, total=total, item="")

        def update(done: int, total: int, item: str) -> None:
            progress.update(task, completed=done, total=total, item=item)

        yield update
