import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omniret.api import Embedder, load_model
from omniret.config import ModelConfig, from_dict
from omniret.index import Index, IndexMismatchError
from omniret.inputs import OmniInput
from omniret.model import OmniRet
from tests.conftest import local_config_dict
from tests.helpers.builders import clustered_store as _clustered_store
from tests.helpers.media import png_bytes, sine, write_audio, write_video

pytest.importorskip("lancedb")


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
    from omniret.index.ann import build_ann
    from omniret.index.search import search_vector

    store, table, x, rng = _clustered_store(tmp_path / "db")
    ann = build_ann(store, target_recall=0.9, sample=50)
    assert (
        ann["recall"] >= 0.9 and ann["rows"] == 3000 and store.sidecar()["ann"]["nprobes"] == ann["nprobes"]
    )
    assert (
        ann["tune_lower_bound"] >= 0.9 and ann["sample"] == 50
    )  # chosen on 25 queries, measured on 25 others
    result = search_vector(store, x[0], k=5)
    assert result.mode.startswith("ann (") and f"recall@10={ann['recall']:.3f}" in result.mode
    assert result.hits[0].uri == "v0"
    from omniret.index.ann import exact_top

    queries = x[:12] + 0.2 * rng.normal(size=(12, 32)).astype(np.float32)
    flat = [set(table.search(q).metric("dot").bypass_vector_index().limit(10).with_row_id(True).to_arrow()["_rowid"]
                .to_pylist()) for q in queries]  # fmt: skip
    assert exact_top(table, queries, 10, batch=700) == flat  # the streamed pass equals LanceDB's flat scan


def test_ann_setting_that_fails_the_held_out_check_is_escalated(tmp_path, monkeypatch):
    """The tuning half can accept a setting the other half rejects (the IVF k-means is unseeded): the
    walk then continues to a costlier setting instead of storing a recall below the target."""
    from omniret.index import ann as ann_mod

    store, *_ = _clustered_store(tmp_path / "db", n=1000)
    real, seen = ann_mod.recall_at, []

    def first_check_fails(table, queries, truth, k, *, nprobes, refine):
        seen.append((nprobes, refine))
        return 0.0 if len(seen) == 1 else real(table, queries, truth, k, nprobes=nprobes, refine=refine)

    monkeypatch.setattr(ann_mod, "recall_at", first_check_fails)
    ann = ann_mod.build_ann(store, target_recall=0.9, sample=40)
    assert ann["checks"] == len(seen) >= 2 and ann["met_target"] and ann["recall"] >= 0.9
    assert (ann["nprobes"], ann["refine_factor"]) > seen[0]  # the ladder is ordered (nprobes, refine)


def test_shot_aware_video_moments_follow_the_cuts(tmp_path):
    """Cuts where the picture changes; long shots split at 10 s; a 1 s flash is not a shot of its own."""
    from omniret.datasets.render import make_video
    from omniret.index.decompose import decompose

    colour = {c: Image.new("RGB", (32, 32), rgb) for c, rgb in
              {"A": (200, 30, 30), "B": (30, 200, 30), "F": (250, 250, 250), "C": (30, 30, 200)}.items()}  # fmt: skip
    plan = "AAA" + "B" * 14 + "CCCC" + "F" + "CCC"  # seconds: A 0-3, B 3-17, C 17-21, flash 21-22, C 22-25
    path = make_video(
        [colour[c] for c in plan], None, tmp_path / "shots.mp4", seconds_each=1.0, fps=4, size=32
    )
    segs = decompose(path, "video", video_mode="shots")[0]
    spans = [(s.t0, s.t1) for s in segs if s.segment_id != "whole"]
    expected = [(0, 3), (3, 10), (10, 17), (17, 25)]  # the 14 s shot becomes two even 7 s moments
    assert len(spans) == len(expected), spans
    for (t0, t1), (e0, e1) in zip(spans, expected, strict=True):
        assert abs(t0 - e0) <= 0.3 and abs(t1 - e1) <= 0.3, spans
    fixed = [(s.t0, s.t1) for s in decompose(path, "video")[0] if s.segment_id != "whole"]
    assert fixed == [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)]  # fixed: full 10 s windows, the last overlaps


def test_segmentation_is_recorded_and_kept(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder / "clip.mp4"], video_segments="shots")
    assert ix.stats()["segmentation"]["video"] == "shots"
    ix.add([folder / "tone.wav"])  # no choice given: the index's own is kept
    assert ix.stats()["segmentation"]["video"] == "shots"
    with pytest.raises(IndexMismatchError, match="cuts videos into shots segments, not fixed"):
        ix.add([folder], video_segments="fixed")


def test_video_moments_store_their_keyframe(folder, tmp_path, ckpt):
    import io
    import json

    ix = index(tmp_path / "db", ckpt)
    ix.add([folder])
    hits = ix.search("x", k=20).hits
    video = [h for h in hits if h.modality == "video"]
    assert video and all(h.keyframe is None for h in hits if h.modality != "video")
    img = Image.open(io.BytesIO(video[0].keyframe))
    assert img.format == "JPEG" and max(img.size) <= 160
    r, g, _ = img.convert("RGB").getpixel((img.width // 2, img.height // 2))
    assert g > 200 and r < 60  # the clip is red for 1 s then green: its middle (1.0 s) is green
    assert json.loads(json.dumps(video[0].as_dict()))["keyframe"].startswith("data:image/jpeg;base64,")


def test_an_index_made_before_keyframes_keeps_working_and_is_migrated(folder, tmp_path, ckpt):
    import pyarrow as pa

    from omniret.index.store import TABLE, schema

    ix = index(tmp_path / "db", ckpt)
    ix.add([folder / "img0.png"])
    old = ix.store.table().to_arrow().drop_columns(["keyframe"])  # as an index of the previous release
    ix.store.db.drop_table(TABLE)
    ix.store.db.create_table(
        TABLE,
        data=old,
        schema=pa.schema(
            [f for f in schema(old.schema.field("vector").type.list_size) if f.name != "keyframe"]
        ),
    )
    assert [h.uri for h in ix.search("x", k=5).hits] == [
        str((folder / "img0.png").resolve())
    ]  # readable as is
    ix.add([folder / "clip.mp4"])
    t = ix.store.table().to_arrow()
    kf = dict(zip(t["modality"].to_pylist(), t["keyframe"].to_pylist(), strict=True))
    assert (
        t.num_rows == 2 and kf["image"] is None and kf["video"][:2] == b"\xff\xd8"
    )  # old row kept, new has a JPEG


def test_commit_batches_bound_files_and_media_seconds():
    from omniret.index.indexer import commit_batches

    todo = [(f"f{i}", "", "audio", s) for i, s in enumerate([1, 1, 1, 1, 1, 2000, 1, 1, 1])]
    sizes = [[t[3] for t in b] for b in commit_batches(todo, 2, 1800)]
    assert sizes == [[1, 1], [1, 1], [1], [2000], [1, 1], [1]]  # the 2000 s file commits alone
    assert [t for b in commit_batches(todo, 2, 1800) for t in b] == todo  # nothing lost or reordered


def test_an_index_built_from_a_checkpoint_dir_is_searched_without_naming_it_again(
    tmp_path, ckpt, monkeypatch
):
    """The index records where its model came from: `omniret search` without --model loads that
    checkpoint (before, it looked for a preset named like the directory and failed)."""
    import json

    from typer.testing import CliRunner

    from omniret.cli.main import app

    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("espresso and a croissant\n")
    (folder / "b.txt").write_text("the train to the coast\n")
    db = tmp_path / "db"
    run = CliRunner().invoke(app, ["index", str(folder), "--db", str(db), "--model", str(ckpt), "--quiet"])
    assert run.exit_code == 0, run.output
    assert json.loads((db / "omniret.json").read_text())["model_source"] == str(ckpt.resolve())
    found = CliRunner().invoke(app, ["search", "espresso", "--db", str(db), "--json", "-k", "2"])
    assert found.exit_code == 0, found.output
    named = CliRunner().invoke(app, ["search", "espresso", "--db", str(db), "--json", "-k", "2",
                                     "--model", str(ckpt)])  # fmt: skip
    assert named.exit_code == 0 and json.loads(named.output) == json.loads(found.output)
    uris = {h["uri"] for h in json.loads(found.output)["hits"]}
    assert uris == {str(folder / "a.txt"), str(folder / "b.txt")}
