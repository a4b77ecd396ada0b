"""Prometheus metrics of one server (its own registry, so two apps in one process never share)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("omniret_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)  # fmt: skip
        self.latency = Histogram("omniret_request_seconds", "request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.batch_requests = Histogram("omniret_batch_requests", "requests per model forward",
                                        buckets=BATCH_BUCKETS, registry=r)  # fmt: skip
        self.batch_inputs = Histogram("omniret_batch_inputs", "inputs per model forward",
                                      buckets=BATCH_BUCKETS, registry=r)  # fmt: skip
        self.ingest_files = Gauge("omniret_ingest_files", "files of ingest jobs", ["state"], registry=r)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def batch(self, requests: int, inputs: int) -> None:
        self.batch_requests.observe(requests)
        self.batch_inputs.observe(inputs)

    def text(self) -> bytes:
        return generate_latest(self.registry)
