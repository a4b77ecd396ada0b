"""One progress bar for every long loop (encoding, indexing, training): rich, with a time estimate,
or nothing at all when not wanted, so logs and tests see no control characters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def bar(label: str, total: float, *, enabled: bool, unit: str = "", done: float = 0.0,
        transient: bool = True) -> Callable[..., None]:  # fmt: skip
    """``update(advance=0, completed=None, description=None)``: moves a bar of ``total`` units
    (``unit`` shown after the counts) and stops it once complete; a no-op when not ``enabled``."""
    if not enabled or total <= 0:
        return lambda *a, **k: None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    counts = "{task.completed:.0f}/{task.total:.0f}" + (f" {unit}" if unit else "")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(counts),
                        TimeRemainingColumn(), transient=transient)  # fmt: skip
    progress.start()
    task = progress.add_task(label, total=total, completed=done)

    def update(
        advance: float = 0.0, *, completed: float | None = None, description: str | None = None
    ) -> None:
        progress.update(task, advance=advance, completed=completed, description=description)
        if progress.tasks[0].completed >= total - 1e-6:
            progress.stop()

    return update


def track(items: Iterable[T], *, enabled: bool, total: float, label: str,
          size: Callable[[T], float] = lambda _: 1) -> Iterator[T]:  # fmt: skip
    """Yield ``items``; with ``enabled`` a bar advances by ``size(item)`` after each one."""
    update = bar(label, total, enabled=enabled)
    for item in items:
        yield item
        update(size(item))
