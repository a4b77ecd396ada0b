"""Ingest jobs: uploads and server-side paths indexed by the same ``Index.add`` as the CLI, one job
at a time on one thread (the index has one writer anyway), with progress a client can poll."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MAX_KEPT = 200  # finished jobs remembered for GET /v1/jobs/{id}


@dataclass
class Job:
    id: str
    paths: list[Path]
    state: str = "queued"  # queued | running | done | failed
    files_done: int = 0
    files_total: int | None = None  # known once the scan has run
    created: float = field(default_factory=time.time)
    finished: float | None = None
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"file": ..., "reason": ...}
    error: str | None = None

    def as_dict(self) -> dict:
        out = {k: v for k, v in vars(self).items() if k != "paths"}
        out["files"] = [p.name for p in self.paths]
        return out


class Jobs:
    def __init__(self, service) -> None:
        self.service = service
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="omniret-ingest", daemon=True)
        self._thread.start()

    def submit(self, paths: list[Path]) -> Job:
        job = Job(id=uuid.uuid4().hex[:16], paths=list(paths))
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.finished is not None]
            for old in sorted(finished, key=lambda j: j.finished)[: max(0, len(finished) - MAX_KEPT)]:
                del self._jobs[old.id]
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            self._ingest(job)

    def _ingest(self, job: Job) -> None:
        job.state = "running"
        gauge = self.service.metrics.ingest_files

        def progress(done: int, total: int) -> None:
            job.files_done, job.files_total = done, total
            gauge.labels(state="done").set(done)
            gauge.labels(state="total").set(total)

        try:
            while not self.service.ready.wait(timeout=0.2):
                if self.service.error:
                    raise RuntimeError(f"the model did not load: {self.service.error}")
            report = self.service.index.add([str(p) for p in job.paths], on_progress=progress)
            job.added, job.replaced, job.unchanged = report.added, report.replaced, report.unchanged
            job.skipped = [{"file": f, "reason": r} for f, r in report.skipped]
            job.state = "done"
        except Exception as err:
            job.error, job.state = f"{type(err).__name__}: {err}", "failed"
        job.finished = time.time()
