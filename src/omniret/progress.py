"""One progress bar for every long loop (encoding, indexing, training): rich on a terminal, silent
otherwise, so logs and tests see no control characters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def track(items: Iterable[T], *, enabled: bool, total: float, label: str,
          size: Callable[[T], float] = lambda _: 1) -> Iterator[T]:  # fmt: skip
    """Yield ``items``; with ``enabled`` a transient bar advances by ``size(item)`` after each one."""
    if not enabled:
        yield from items
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task, size(item))
