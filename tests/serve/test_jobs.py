"""Ingest jobs: a job whose model never loaded fails with the reason; unknown ids are None."""

from __future__ import annotations

import time


def test_a_job_fails_naming_why_the_model_did_not_load(failed_service, tmp_path):
    service = failed_service
    job = service.jobs.submit([tmp_path])
    deadline = time.monotonic() + 10
    while job.state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.state == "failed" and job.finished is not None
    assert job.error == "RuntimeError: the model did not load: TypeError: model random cannot embed"
    assert service.jobs.get(job.id) is job and service.jobs.get("nope") is None
    assert job.as_dict()["files"] == [tmp_path.name]
