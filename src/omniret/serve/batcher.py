"""Dynamic batching: concurrent requests share one model forward.

All model work of the server (embeddings, search queries, ingest) runs on one worker thread, so the
model is never entered by two threads at once and the CPU is not oversubscribed. The worker takes
the first waiting request, waits up to ``window`` seconds for more, and encodes them together (up
to ``max_batch`` inputs). When a joint batch fails, each request is retried alone, so one bad
medium fails its own request and never its neighbours'.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from omniret.inputs import OmniInput


@dataclass
class _Job:
    inputs: list[OmniInput]
    future: Future = field(default_factory=Future)


class Batcher:
    """``submit(inputs) -> Future[(n, dim) array]``; ``window=0`` or ``max_batch=1``: one request per forward."""

    def __init__(self, encode: Callable[[list[OmniInput]], np.ndarray], *, window: float = 0.005,
                 max_batch: int = 64, on_batch: Callable[[int, int], None] | None = None) -> None:  # fmt: skip
        self.encode, self.window, self.max_batch = encode, window, max_batch
        self.on_batch = on_batch or (lambda requests, inputs: None)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="omniret-batcher", daemon=True)
        self._thread.start()

    def submit(self, inputs: list[OmniInput]) -> Future:
        job = _Job(list(inputs))
        if not job.inputs:
            job.future.set_result(np.zeros((0, 0), dtype=np.float32))
        else:
            self._queue.put(job)
        return job.future

    def run(self, inputs: list[OmniInput]) -> np.ndarray:
        """Blocking ``submit``: for code already on a worker thread (search, ingest)."""
        return self.submit(inputs).result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, size = [job], len(job.inputs)
            deadline = time.monotonic() + self.window
            while size < self.max_batch:  # gather company until the window closes or the batch is full
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # close after this batch
                    break
                if size + len(nxt.inputs) > self.max_batch and size:
                    self._queue.put(nxt)  # too big to join: first of the next batch (order kept loosely)
                    break
                jobs.append(nxt)
                size += len(nxt.inputs)
            self._encode(jobs)

    def _encode(self, jobs: list[_Job]) -> None:
        live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
        if not live:
            return
        self.on_batch(len(live), sum(len(j.inputs) for j in live))
        try:
            out = self.encode([x for j in live for x in j.inputs])
        except BaseException as err:
            if len(live) == 1:
                live[0].future.set_exception(err)
                return
            for j in live:  # find the culprit: each request alone
                self._encode_alone(j)
            return
        start = 0
        for j in live:
            j.future.set_result(out[start : start + len(j.inputs)])
            start += len(j.inputs)

    def _encode_alone(self, job: _Job) -> None:
        try:
            job.future.set_result(self.encode(job.inputs))
        except BaseException as err:
            job.future.set_exception(err)
