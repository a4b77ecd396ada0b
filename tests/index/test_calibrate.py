"""Per-modality score calibration on hand-made vectors: the z-scores, exactness of the merged top k,
single-modality filters, staleness and recomputation (index/calibrate.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("lancedb")

from omniret.index import Index
from omniret.index import calibrate as cal
from omniret.index.store import Store, schema

# image rows a1, a2 and text rows t1, t2 (unit vectors in 2-D); every text probe is (1, 0)
ROWS = [("a1", "image", (1.0, 0.0)), ("a2", "image", (0.8, 0.6)), ("t1", "text", (0.0, 1.0)),
        ("t2", "text", (0.6, 0.8))]  # fmt: skip
QUERY = (0.6, 0.8)


def make_store(path, rows, *, weights_hash: str = "w1") -> Store:
    dim = len(rows[0][2])
    store = Store(path)
    store.write_sidecar(
        {"model_id": "synthetic", "weights_hash": weights_hash, "recipe_hash": "0", "dim": dim}
    )
    add_rows(store, rows)
    return store


def add_rows(store: Store, rows) -> None:
    import pyarrow as pa

    dim = len(rows[0][2])
    x = np.asarray([v for *_, v in rows], np.float32)
    cols = {f.name: pa.nulls(len(rows), f.type) for f in schema(dim)}
    ids = pa.array([u for u, *_ in rows])
    cols.update(uri=ids, asset_id=ids, segment_id=pa.array(["whole"] * len(rows)),
                modality=pa.array([m for _, m, _ in rows]),
                vector=pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim))  # fmt: skip
    store.table(dim).add(pa.table(cols, schema=schema(dim)))


class FakeModel:
    """What the index asks of a model: its id, weights hash and ``encode`` (probe texts -> (1, 0))."""

    model_id = "synthetic"

    def __init__(self, query=QUERY, *, weights_hash: str = "w1", probe=(1.0, 0.0)) -> None:
        self.query, self.weights_hash, self.probe, self.calls = (
            np.asarray(query, np.float32),
            weights_hash,
            probe,
            0,
        )

    def encode(self, inputs, **_):
        self.calls += 1
        return np.stack(
            [np.asarray(self.probe if x.text in cal.PROBES else self.query, np.float32) for x in inputs]
        )


def calibrated(path, model=None, rows=ROWS) -> Index:
    ix = Index(path, model=model or FakeModel())
    make_store(path, rows)
    ix.calibrate()
    return ix


def test_stats_and_z_scores_match_the_hand_computed_values(tmp_path):
    ix = calibrated(tmp_path / "db")
    stats = ix.store.sidecar()["calibration"]["stats"]
    # text probes (1, 0): images score 1 and 0.8, texts 0 and 0.6, for each of the 64 probes
    assert stats["text"]["image"] == {"mean": 0.9, "std": 0.1, "pairs": 128}
    assert stats["text"]["text"] == {"mean": 0.3, "std": 0.3, "pairs": 128}
    assert stats["text"]["*"]["mean"] == pytest.approx(0.6) and stats["text"]["*"]["std"] == pytest.approx(
        0.14**0.5
    )
    # image probes are the image rows, never paired with their own file: a1.a2 twice; a_i.t_j four pairs
    assert stats["image"]["image"] == {"mean": 0.8, "std": 0.0, "pairs": 2}
    assert stats["image"]["text"]["mean"] == pytest.approx(0.54)
    assert stats["image"]["text"]["std"] == pytest.approx(np.std([0.0, 0.6, 0.6, 0.96]), abs=1e-6)
    assert set(stats) == {"text", "image"}

    raw = ix.search("q", k=4, calibration="off")
    assert [h.uri for h in raw.hits] == ["t2", "a2", "t1", "a1"] and raw.calibration == "off"
    on = ix.search("q", k=4, calibration="on")
    assert on.calibration == "on (text-query stats)"
    assert [h.uri for h in on.hits] == ["t2", "t1", "a2", "a1"]  # z: 2.33, 1.67, 0.6, -3
    z = {h.uri: h.calibrated_score for h in on.hits}
    expected = {
        "t2": (1 - 0.3) / 0.3,
        "t1": (0.8 - 0.3) / 0.3,
        "a2": (0.96 - 0.9) / 0.1,
        "a1": (0.6 - 0.9) / 0.1,
    }
    assert z == pytest.approx(expected, abs=1e-4)
    assert [h.score for h in on.hits] == pytest.approx([1.0, 0.8, 0.96, 0.6], abs=1e-6)  # raw cosine kept
    assert ix.search("q", k=4).calibration.startswith("on")  # auto: two modalities and current stats
    assert json.loads(json.dumps(on.hits[0].as_dict()))["calibrated_score"] == pytest.approx(
        expected["t2"], abs=1e-4
    )


def test_a_single_modality_filter_gives_exactly_the_raw_ranking(tmp_path):
    rows = random_rows()
    ix = calibrated(tmp_path / "db", FakeModel(rows[0][2], probe=rows[1][2]), rows)
    for m in cal.MODALITIES:
        on = ix.search("q", k=15, modalities=[m], calibration="on")
        off = ix.search("q", k=15, modalities=[m], calibration="off")
        assert on.calibration.startswith("off (one modality")
        assert [(h.uri, h.score, h.calibrated_score) for h in on.hits] == [
            (h.uri, h.score, None) for h in off.hits
        ]


def random_rows(n: int = 240, dim: int = 8, seed: int = 0):
    """Four modalities, each around its own centre (a "modality gap" the raw cosine ranks by)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, dim))
    rows = []
    for i in range(n):
        m = i % 4
        v = centres[m] + rng.normal(scale=0.7, size=dim)
        rows.append((f"r{i}", cal.MODALITIES[m], tuple(v / np.linalg.norm(v))))
    return rows


@pytest.mark.parametrize("group_by_asset", [False, True])
def test_the_calibrated_top_k_is_exact(tmp_path, group_by_asset):
    """Per-modality fetches merged by z equal ranking every row by its z (the search is exact)."""
    rows = random_rows()
    query = np.asarray(rows[5][2]) + 0.3 * np.asarray(rows[6][2])
    ix = calibrated(tmp_path / "db", FakeModel(query / np.linalg.norm(query), probe=rows[7][2]), rows)
    stats = ix.store.sidecar()["calibration"]["stats"]["text"]
    z = {u: (float(np.dot(v, ix.model.query)) - stats[m]["mean"]) / stats[m]["std"] for u, m, v in rows}
    best = sorted(z, key=lambda u: -z[u])[:12]
    hits = ix.search("q", k=12, calibration="on", group_by_asset=group_by_asset).hits
    assert [h.uri for h in hits] == best
    assert [h.calibrated_score for h in hits] == pytest.approx([z[u] for u in best], abs=1e-4)
    assert [h.uri for h in ix.search("q", k=12, calibration="off").hits] != best  # the gap does rank raw


def test_stats_of_other_weights_are_ignored_with_a_warning(tmp_path):
    ix = calibrated(tmp_path / "db")
    meta = ix.store.sidecar()
    ix.store.write_sidecar({**meta, "calibration": {**meta["calibration"], "weights_hash": "w0"}})
    with pytest.warns(UserWarning, match="computed with weights w0, not w1"):
        result = ix.search("q", k=4)  # auto
    assert result.calibration.startswith("off (calibration stats were computed with weights w0")
    assert [h.uri for h in result.hits] == ["t2", "a2", "t1", "a1"] and result.hits[
        0
    ].calibrated_score is None
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="cannot calibrate"):
        ix.search("q", k=4, calibration="on")
    assert not cal.is_current(ix.store, weights_hash="w1")  # so the next `omniret index` recomputes them
    assert ix.stats()["calibration"]["current"] is False


def test_when_calibration_does_not_apply(tmp_path):
    make_store(tmp_path / "none", ROWS)
    plain = Index(tmp_path / "none", model=FakeModel())
    with pytest.raises(ValueError, match="no calibration stats"):
        plain.search("q", calibration="on")
    assert plain.search("q").calibration.startswith("off (no calibration stats")
    single = calibrated(tmp_path / "one", rows=[r for r in ROWS if r[1] == "text"])
    assert single.search("q").calibration == "off (one modality in the index)"
    with pytest.raises(ValueError, match="must be one of"):
        single.search("q", calibration="yes")
    meta = {"weights_hash": "w1", "calibration": {"weights_hash": "w1", "stats": {"text": {}}, "rows": {}}}
    status = cal.choose(meta, mode="on", query=("text", "image"), weights_hash="w1", modalities=None)
    assert status == (None, "off (composed text+image query: no probes of its kind)")
    status = cal.choose(meta, mode="on", query=("audio",), weights_hash="w1", modalities=["audio", "text"])
    assert status == (None, "off (no audio rows to probe audio queries with)")


def test_changes_make_stats_stale_and_delete_recomputes_without_the_model(tmp_path):
    ix = calibrated(tmp_path / "db")
    assert cal.is_current(ix.store, weights_hash="w1") and ix.model.calls == 1  # the probe bank, once
    assert ix.search("q", k=10).hits and ix.model.calls == 2  # fresh stats: only image and text queried
    add_rows(ix.store, [("s1", "audio", (0.0, 1.0))])  # as a killed `omniret index` could leave it
    assert not cal.is_current(ix.store, weights_hash="w1")  # Index.add would recompute now
    hits = ix.search("q", k=10, calibration="on").hits  # stale: every modality is queried
    assert "s1" in [h.uri for h in hits]  # scored with the pooled text-query stats
    assert next(h for h in hits if h.uri == "s1").calibrated_score == pytest.approx(
        (0.8 - 0.6) / 0.14**0.5, abs=1e-4
    )

    class NoModel(FakeModel):
        def encode(self, inputs, **_):
            raise AssertionError("the probe bank is cached beside the index")

    ix = Index(tmp_path / "db", model=NoModel())
    assert ix.delete(where="uri = 'a1'") == 1
    after = ix.store.sidecar()["calibration"]
    assert after["rows"] == {"image": 1, "text": 2, "audio": 1} and cal.is_current(
        ix.store, weights_hash="w1"
    )
    assert "image" not in after["stats"]["image"]  # one image file: no pair of two different files
    assert after["stats"]["text"]["audio"] == {"mean": 0.0, "std": 0.0, "pairs": 64}


def test_stats_command_shows_the_calibration(tmp_path):
    from typer.testing import CliRunner

    from omniret.cli.main import app

    calibrated(tmp_path / "db")
    out = CliRunner().invoke(app, ["stats", "--db", str(tmp_path / "db")])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)["calibration"]
    assert shown["current"] and shown["stats"]["text"]["image"] == {"mean": 0.9, "std": 0.1, "pairs": 128}
