"""The server's state: a model that cannot embed is reported by readiness, never served."""

from __future__ import annotations


def test_a_ranker_is_refused_at_load_and_never_ready(failed_service):
    assert failed_service.error == "TypeError: model random cannot embed"
    assert not failed_service.ready.is_set() and failed_service.index is None
