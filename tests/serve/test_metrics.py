"""Metrics: one registry per app, counters and histograms in Prometheus text."""

from __future__ import annotations

from omniret.serve.metrics import Metrics


def test_counts_and_batches_are_exposed_per_registry():
    a, b = Metrics(), Metrics()
    a.observe("/v1/search", 200, 0.02)
    a.observe("/v1/search", 200, 0.04)
    a.observe("/v1/search", 400, 0.001)
    a.batch(3, 7)
    text = a.text().decode()
    assert 'omniret_requests_total{route="/v1/search",status="200"} 2.0' in text
    assert 'omniret_requests_total{route="/v1/search",status="400"} 1.0' in text
    assert 'omniret_request_seconds_count{route="/v1/search"} 3.0' in text
    assert "omniret_batch_inputs_sum 7.0" in text and "omniret_batch_requests_sum 3.0" in text
    assert "omniret_requests_total{" not in b.text().decode()  # a second app starts from zero
