"""Dynamic batching: requests share forwards, results stay with their request, failures stay local."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from omniret.inputs import OmniInput
from omniret.serve.batcher import Batcher


class Recorder:
    """encode(inputs) -> one row per input holding len(text); "bad" fails the whole call."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()

    def __call__(self, inputs):
        self.gate.wait(5)  # hold the first forward until every request is queued
        self.calls.append(len(inputs))
        if any(x.text == "bad" for x in inputs):
            raise ValueError("bad input")
        return np.array([[len(x.text)] for x in inputs], dtype=np.float32)


def texts(*words):
    return [OmniInput(text=w) for w in words]


def test_concurrent_requests_share_a_forward_and_get_their_own_rows():
    enc = Recorder()
    b = Batcher(enc, window=0.5, max_batch=16)
    futures = [b.submit(texts("a" * (i + 1), "b" * (i + 10))) for i in range(3)]
    enc.gate.set()
    rows = [f.result(timeout=10)[:, 0].tolist() for f in futures]
    b.close()
    assert rows == [[1, 10], [2, 11], [3, 12]]
    assert enc.calls == [6]  # one forward for the three requests


def test_max_batch_caps_a_forward():
    enc = Recorder()
    b = Batcher(enc, window=0.5, max_batch=4)
    futures = [b.submit(texts("x", "y")) for _ in range(3)]
    enc.gate.set()
    for f in futures:
        f.result(timeout=10)
    b.close()
    assert enc.calls == [4, 2]


def test_one_bad_request_fails_alone():
    enc = Recorder()
    b = Batcher(enc, window=0.5, max_batch=16)
    good, bad, later = b.submit(texts("fine")), b.submit(texts("bad")), b.submit(texts("also fine"))
    enc.gate.set()
    assert good.result(timeout=10)[0, 0] == 4
    assert later.result(timeout=10)[0, 0] == 9
    with pytest.raises(ValueError, match="bad input"):
        bad.result(timeout=10)
    after = b.submit(texts("after")).result(timeout=10)
    b.close()
    assert after[0, 0] == 5
    assert enc.calls[0] == 3  # tried together first, then each alone


def test_no_window_means_one_request_per_forward():
    enc = Recorder()
    enc.gate.set()
    b = Batcher(enc, window=0.0, max_batch=1)
    for f in [b.submit(texts("p", "q")), b.submit(texts("r"))]:
        f.result(timeout=10)
    b.close()
    assert enc.calls == [2, 1]  # a request larger than max_batch still goes whole
