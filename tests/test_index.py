import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omniret.api import Embedder, load_model
from omniret.checkpoint import save_checkpoint
from omniret.config import ModelConfig, from_dict
from omniret.index import Index, IndexMismatchError
from omniret.inputs import OmniInput
from omniret.model import OmniRet
from tests.conftest import local_config_dict
from tests.media_factory import png_bytes, sine, write_audio, write_video

pytest.importorskip("lancedb")


@pytest.fixture(scope="module")
def ckpt(hf_dirs, tmp_path_factory):
    """A tiny real-architecture model saved as a checkpoint, so every process loads identical weights."""
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(OmniRet.build(from_dict(ModelConfig, local_config_dict(hf_dirs))), path)
    return path


@pytest.fixture
def folder(tmp_path):
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


def index(path, ckpt):
    return Index(path, model=load_model(ckpt, cache=False))


def rows(ix):
    t = ix.store.table().to_arrow().sort_by([("uri", "ascending"), ("segment_id", "ascending")])
    return list(zip(t["uri"].to_pylist(), t["segment_id"].to_pylist(), t["vector"].to_pylist(), strict=True))


def test_index_decomposes_and_searches(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    report = ix.add([folder])
    assert len(report.added) == 8 and not report.skipped
    st = ix.stats()
    assert (
        st["by_modality"] == {"image": 4, "audio": 1 + 2 + 1, "video": 1, "text": 1}
        and st["index_mode"] == "exact"
    )
    res = ix.search("cats", k=3)
    assert res.mode == "exact" and len(res.hits) == 3
    vec = ix.model.encode([OmniInput(text="cats")])[0]
    stored = {(u, s): np.array(v) for u, s, v in rows(ix)}
    top = res.hits[0]
    assert top.score == pytest.approx(
        float(stored[(top.uri, top.segment_id)] @ vec), abs=1e-4
    )  # score = cosine
    windows = [h for h in ix.search("tone", k=20, modalities=["audio"]).hits if h.uri.endswith("tone.wav")]
    assert {(h.t0, h.t1) for h in windows} >= {(0.0, 10.0), (2.0, 12.0), (0.0, 12.0)}


def test_where_modality_group_by_and_metadata(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder], meta={"owner": "ana"})
    only_images = ix.search("x", k=10, modalities=["image"]).hits
    assert {h.modality for h in only_images} == {"image"} and len(only_images) == 4
    holiday = ix.search("x", k=10, where="meta LIKE '%holiday%'").hits
    assert [Path(h.uri).name for h in holiday] == ["img0.png"] and holiday[0].meta["owner"] == "ana"
    grouped = ix.search("tone", k=10, group_by_asset=True).hits
    assert len({h.asset_id for h in grouped}) == len(grouped)


def test_incremental_reindex_change_and_prune(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder])
    version = ix.store.table().version
    again = ix.add([folder])
    assert again.rows_written == 0 and again.unchanged == 8 and ix.store.table().version == version
    before = {r[:2]: r[2] for r in rows(ix)}
    Image.new("RGB", (24, 24), (9, 9, 9)).save(folder / "img2.png")
    changed = ix.add([folder])
    assert changed.replaced == [str((folder / "img2.png").resolve())]
    after = {r[:2]: r[2] for r in rows(ix)}
    key = (str((folder / "img2.png").resolve()), "image")
    assert after[key] != before[key] and len(after) == len(before)  # old row gone, one new row
    (folder / "img3.png").unlink()
    pruned = ix.add([folder], prune=True)
    assert pruned.pruned == [str((folder / "img3.png").resolve())] and len(rows(ix)) == len(before) - 1


def test_bad_files_are_reported_and_the_rest_indexed(folder, tmp_path, ckpt):
    good = png_bytes(Image.new("RGB", (40, 40), (1, 2, 3)))
    (folder / "zero.png").write_bytes(b"")
    (folder / "cut.png").write_bytes(good[: len(good) // 2])
    (folder / "bad.mp3").write_bytes(b"\xff\xfb" + os.urandom(600))
    (folder / "sound.jpg").write_bytes(
        (folder / "short.flac").read_bytes()
    )  # wrong extension: indexed by content
    (folder / "gone.png").symlink_to(folder / "missing-target.png")  # unreadable
    (folder / "big.wav").write_bytes((folder / "tone.wav").read_bytes())
    ix = index(tmp_path / "db", ckpt)
    report = ix.add([folder], max_file_bytes=200_000)
    reasons = {Path(f).name: r for f, r in report.skipped}
    assert set(reasons) == {"zero.png", "cut.png", "bad.mp3", "gone.png", "big.wav", "tone.wav"}
    assert (
        "empty" in reasons["zero.png"]
        and "truncated" in reasons["cut.png"]
        and "not found" in reasons["gone.png"]
    )
    assert "byte limit" in reasons["big.wav"]
    by_uri = {
        Path(u).name: m
        for u, m in zip(
            *(ix.store.table().to_arrow()[c].to_pylist() for c in ("uri", "modality")), strict=True
        )
    }
    assert by_uri["sound.jpg"] == "audio" and by_uri["img1.png"] == "image"


def test_other_model_is_refused(folder, tmp_path, ckpt, hf_dirs):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder / "notes.md"])
    other = Embedder(OmniRet.build(from_dict(ModelConfig, local_config_dict(hf_dirs))))
    with pytest.raises(IndexMismatchError, match="was built with model"):
        Index(tmp_path / "db", model=other).add([folder])


def test_sigkill_mid_ingest_then_rerun_equals_an_uninterrupted_run(folder, tmp_path, ckpt):
    cmd = [sys.executable, "-m", "omniret.cli.main", "index", str(folder), "--model", str(ckpt), "--batch-files", "1",
           "--quiet"]  # fmt: skip
    env = {**os.environ, "OMNIRET_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [*cmd, "--db", str(tmp_path / "killed")], stdout=subprocess.PIPE, text=True, env=env
    )
    commits = 0
    for line in proc.stdout:
        commits += line.startswith("committed")
        if commits == 3:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    subprocess.run([*cmd, "--db", str(tmp_path / "killed")], check=True, env=env, capture_output=True)
    subprocess.run([*cmd, "--db", str(tmp_path / "clean")], check=True, env=env, capture_output=True)
    killed, clean = rows(Index(tmp_path / "killed", model="x")), rows(Index(tmp_path / "clean", model="x"))
    assert [r[:2] for r in killed] == [r[:2] for r in clean] and len(clean) == 10
    np.testing.assert_allclose([r[2] for r in killed], [r[2] for r in clean], atol=1e-6)


def test_ann_is_tuned_to_a_measured_recall_and_reported(tmp_path):
    import pyarrow as pa

    from omniret.index.ann import build_ann
    from omniret.index.search import search_vector
    from omniret.index.store import Store, schema

    store = Store(tmp_path / "db")
    store.write_sidecar({"model_id": "synthetic", "weights_hash": "0", "recipe_hash": "0", "dim": 32})
    table = store.table(32)
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, 32))
    x = centers[rng.integers(20, size=3000)] + 0.3 * rng.normal(size=(3000, 32))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    cols = {f.name: pa.nulls(len(x), f.type) for f in schema(32)}
    cols["uri"] = pa.array([f"v{i}" for i in range(len(x))])
    cols["modality"] = pa.array(["image"] * len(x))
    cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 32)
    table.add(pa.table(cols, schema=schema(32)))
    ann = build_ann(store, target_recall=0.9, sample=50)
    assert (
        ann["recall"] >= 0.9 and ann["rows"] == 3000 and store.sidecar()["ann"]["nprobes"] == ann["nprobes"]
    )
    result = search_vector(store, x[0], k=5)
    assert result.mode.startswith("ann (") and f"recall@10={ann['recall']:.3f}" in result.mode
    assert result.hits[0].uri == "v0"
