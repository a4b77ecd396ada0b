"""Issue 12: a generated corpus of damaged media (tests/media_corpus.py) through the readers and the
indexer. No entry may raise anything but a ``MediaError`` naming it, hang, or store a row; every good
file is indexed beside them. ``make test`` runs one round of bit flips (183 entries), ``make test-slow``
sixteen rounds for each of four more seeds (4 x 843 entries).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omniret.api import load_model
from omniret.index import Index
from omniret.inputs.media import MediaError, load_audio, load_image, load_video
from tests.conftest import guarded
from tests.helpers import corpus as media_corpus

pytest.importorskip("lancedb")
pytest.importorskip("av")

READERS = {
    "image": lambda p: np.asarray(load_image(p), dtype=np.float32),
    "audio": lambda p: load_audio(p),
    "video": lambda p: np.stack(
        [np.asarray(f, dtype=np.float32) for f in load_video(p, max_frames=4).frames]
    ),
}

KIND = {"png": "image", "jpg": "image", "gif": "image", "webp": "image", "bmp": "image", "tiff": "image",
        "wav": "audio", "flac": "audio", "ogg": "audio", "mp3": "audio", "mp4": "video"}  # fmt: skip


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "cache"))


def _read_everything(root: Path, entries) -> dict[tuple[str, str], str]:
    """Every reader on every regular entry: -> (name, reader) -> 'ok' or the MediaError's reason."""
    out = {}
    for e in entries:
        if not (root / e.name).is_file() or (root / e.name).is_symlink():
            continue
        for kind, read in READERS.items():
            try:
                arr = read(root / e.name)
            except MediaError as err:
                assert e.name in str(err) and err.reason, (e, kind, str(err))  # names the file, says why
                out[(e.name, kind)] = err.reason
            except Exception as err:  # the property under test: nothing else escapes
                pytest.fail(f"{kind} reader on {e.name} ({e.how}) raised {type(err).__name__}: {err}")
            else:
                assert arr.size and np.isfinite(arr).all(), (e, kind)
                out[(e.name, kind)] = "ok"
    return out


def _check_readers(tmp_path, *, flip_rounds: int, seed: int) -> None:
    root = tmp_path / "corpus"
    entries = media_corpus.build(root, seed=seed, flip_rounds=flip_rounds)
    results = guarded(lambda: _read_everything(root, entries), timeout=300)
    for e in entries:
        if e.expect == media_corpus.GOOD:
            kind = KIND.get(e.name.rsplit(".", 1)[1])
            assert kind is None or results[(e.name, kind)] == "ok", (e, results.get((e.name, kind)))
        elif e.expect == media_corpus.BAD:
            assert all(results.get((e.name, k), "absent") != "ok" for k in READERS), (e, "decoded")


def test_every_reader_refuses_damaged_media_with_a_media_error(tmp_path):
    _check_readers(tmp_path, flip_rounds=1, seed=0)


def _index_corpus(tmp_path, model, *, flip_rounds: int, seed: int):
    root = tmp_path / "corpus"
    entries = media_corpus.build(root, seed=seed, flip_rounds=flip_rounds)
    ix = Index(tmp_path / "db", model=model)
    report = guarded(lambda: ix.add([root]), fifos=[root / "pipe.wav"], timeout=600)
    added = {Path(u).name for u in report.added}
    skipped = {Path(p).name: r for p, r in report.skipped}
    table = ix.store.table().to_arrow()
    stored = {Path(u).name for u in table["uri"].to_pylist()}
    for e in entries:
        where = (e.name in added, e.name in skipped)
        assert where in ((True, False), (False, True)), (e, "reported exactly once", where)
        if e.expect == media_corpus.GOOD:
            assert e.name in added, (e, skipped.get(e.name))
        if e.expect == media_corpus.BAD:
            assert e.name in skipped and e.name not in stored, (e, "indexed")
        if e.name in skipped:
            reason = skipped[e.name]
            assert reason and "Traceback" not in reason and "\n" not in reason, (e, reason)
    assert stored == added  # nothing of a skipped file was stored
    vectors = np.stack(table["vector"].to_numpy(zero_copy_only=False))
    assert np.isfinite(vectors).all()
    again = guarded(lambda: ix.add([root]), fifos=[root / "pipe.wav"], timeout=600)  # stable on re-run
    assert again.unchanged == len(added) and again.rows_written == 0
    assert {Path(p).name for p, _ in again.skipped} == set(skipped)
    return entries, added, skipped


def test_the_indexer_skips_every_damaged_entry_with_a_reason_and_indexes_the_rest(tmp_path, ckpt):
    entries, added, skipped = _index_corpus(tmp_path, load_model(ckpt, cache=False), flip_rounds=1, seed=0)
    assert len(entries) >= 150 and len(added) >= 13 and len(skipped) >= 60  # the corpus really is mixed


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_long_corpus_runs(tmp_path, ckpt, seed):
    _check_readers(tmp_path / "readers", flip_rounds=16, seed=seed)
    _index_corpus(tmp_path / "index", load_model(ckpt, cache=False), flip_rounds=16, seed=seed)
