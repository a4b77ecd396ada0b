"""Fixtures of the index tests: the tiny checkpoint loaded once per module (a module may define its
own ``model``), a feature cache of the test's own (``usefixtures("isolated_cache")``), a small folder
of every medium, and the helpers several modules read an index's rows with."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from omniret.api import load_model
from omniret.index import Index
from tests.helpers.media import sine, write_audio, write_video

ODD = b"caf\xe9.txt"  # Latin-1 bytes: a file name that is not UTF-8


@pytest.fixture(scope="module")
def model(ckpt):
    return load_model(ckpt, cache=False)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def folder(tmp_path):
    """4 images (one with a metadata sidecar), a 12 s and a 0.5 s tone, a 2 s video and a note: 8 files."""
    root = tmp_path / "media"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / f"img{i}.png")
    write_audio(root / "tone.wav", sine(440, 12.0, 16000), 16000)  # > 10 s: whole + windows
    write_audio(root / "short.flac", sine(880, 0.5, 16000), 16000)
    write_video(root / "clip.mp4", [(255, 0, 0), (0, 255, 0)], size=32)
    (root / "notes.md").write_text("# Title\n\nFirst passage about cats.\n\nSecond passage about rockets.\n")
    (root / "img0.png.json").write_text('{"album": "holiday"}')
    return root


def index(path, ckpt) -> Index:
    """An index at ``path`` with the tiny checkpoint loaded afresh (no shared model state)."""
    return Index(path, model=load_model(ckpt, cache=False))


def rows(ix) -> list[tuple]:
    """(uri, segment_id, vector) of every row, sorted."""
    t = ix.store.table().to_arrow().sort_by([("uri", "ascending"), ("segment_id", "ascending")])
    return list(zip(t["uri"].to_pylist(), t["segment_id"].to_pylist(), t["vector"].to_pylist(), strict=True))


def rows_by_key(ix) -> dict:
    """(uri, segment_id) -> the row's identity, path bytes, modality and text."""
    t = ix.store.table().to_arrow()
    cols = ("uri", "segment_id", "asset_id", "path_bytes", "modality", "text")
    return {(r["uri"], r["segment_id"]): r for r in t.select(cols).to_pylist()}


def synthetic_rows(store, n: int = 3000, dim: int = 16) -> np.ndarray:
    """``n`` seeded unit vectors written as image rows (ids ``f"{i:016x}"``) of a model-less index: enough
    for an IVF build without embedding anything. Returns the vectors."""
    import pyarrow as pa

    from omniret.index.store import schema

    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    store.write_sidecar({"model_id": "synthetic", "weights_hash": "w", "recipe_hash": "0", "dim": dim})
    cols = {f.name: pa.nulls(n, f.type) for f in schema(dim)}
    ids = pa.array([f"{i:016x}" for i in range(n)])
    cols.update(asset_id=ids, uri=ids, segment_id=pa.array(["whole"] * n), modality=pa.array(["image"] * n),
                vector=pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim))  # fmt: skip
    store.table(dim).add(pa.table(cols, schema=schema(dim)))
    return x
