"""A real uvicorn server on a free loopback port, in a thread, over an index of a small folder built
with the tiny checkpoint (real architectures, random weights)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image

from omniret.api import load_model
from omniret.baselines.fusion import RandomRanker
from omniret.index import Index
from omniret.serve import ServeSettings, create_app
from omniret.serve.service import Service
from tests.helpers.media import sine, write_audio, write_video

KEY = "test-key-0123456789"


class Running:
    def __init__(self, app) -> None:
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not (self.server.started and self.server.servers):
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, headers=None) -> None:
        deadline = time.monotonic() + 60
        while httpx.get(self.url + "/readyz", headers=headers).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server never got ready")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def served_model(ckpt):
    return load_model(ckpt, cache=False)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Three images, a tone, a short video and a note."""
    root = tmp_path_factory.mktemp("library")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / f"img{i}.png")
    write_audio(root / "tone.wav", sine(440, 1.0, 16000), 16000)
    write_video(root / "clip.mp4", [(255, 0, 0), (0, 255, 0)], size=32)
    (root / "notes.md").write_text("# Notes\n\nA passage about cats on a windowsill.\n")
    return root


@pytest.fixture(scope="module")
def settings(tmp_path_factory, library, served_model) -> ServeSettings:
    db = tmp_path_factory.mktemp("served") / "db"
    Index(db, model=served_model).add([library])
    return ServeSettings(db=db, max_items=8, max_item_bytes=1 << 20, max_body_bytes=3 << 20, max_k=50,
                         batch_window_ms=20.0, allowed_roots=(library,))  # fmt: skip


@pytest.fixture(scope="module")
def server(settings, served_model):
    running = Running(create_app(settings, model=served_model))
    running.wait_ready()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keyed_server(settings, served_model):
    running = Running(create_app(replace(settings, api_key=KEY), model=served_model))
    running.wait_ready()
    yield running
    running.stop()


@pytest.fixture
def failed_service(tmp_path):
    """A service given a model that cannot embed (the random ranker), once its loader has given up."""
    service = Service(ServeSettings(db=tmp_path / "db"), model=RandomRanker())
    service.start()
    deadline = time.monotonic() + 10
    while service.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    yield service
    service.close()
