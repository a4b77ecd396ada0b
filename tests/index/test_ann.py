"""``index/ann.py``: an ANN index tuned to a measured recall. The chosen setting meets the target on
held-out queries, a setting the held-out half rejects is escalated, the exact top-k it is measured
against equals brute force, and probing every partition of a flat IVF index is exact search."""

from __future__ import annotations

import numpy as np
import pytest

from omniret.errors import InputError
from omniret.index.ann import build_ann, check_target, exact_top, lower_bound
from omniret.index.search import search_vector
from tests.helpers.builders import clustered_store as _clustered_store
from tests.helpers.builders import make_db

pytest.importorskip("lancedb")


def test_ann_is_tuned_to_a_measured_recall_and_reported(tmp_path):
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


def test_exact_top_is_the_brute_force_top_k_over_several_batches(tmp_path):
    """Row ids of the k largest dot products, streamed 7 rows at a time over 64 rows."""
    _, table, x, rng = _clustered_store(tmp_path / "db", n=64, dim=8)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    want = [set(np.argsort(-(x @ q))[:4].tolist()) for q in queries]  # rows were added in order: id = index
    assert exact_top(table, queries, 4, batch=7) == want


def test_probing_every_partition_of_a_flat_ivf_index_is_exact_search(tmp_path):
    store, _, x, rng = _clustered_store(tmp_path / "db", n=64, dim=8)
    ann = build_ann(store, target_recall=1.0, sample=8, index_type="IVF_FLAT")
    assert ann["met_target"] and ann["recall"] == 1.0 and ann["index_type"] == "IVF_FLAT"
    meta = store.sidecar()
    meta["ann"].update(nprobes=8, refine_factor=1)  # sqrt(64) = 8 partitions: every one is probed
    store.write_sidecar(meta)
    for q in rng.normal(size=(4, 8)).astype(np.float32):
        result = search_vector(store, q, k=5)
        order = np.argsort(-(x @ q))[:5]
        assert result.mode.startswith("ann (nprobes=8, refine=1")
        assert [h.uri for h in result.hits] == [f"v{i}" for i in order]
        np.testing.assert_allclose([h.score for h in result.hits], x[order] @ q, atol=1e-5)


def test_build_ann_refuses_an_unknown_index_type_and_too_few_rows(tmp_path):
    store = make_db(tmp_path / "db")
    with pytest.raises(
        InputError, match="index_type must be one of IVF_SQ, IVF_PQ, IVF_FLAT, IVF_HNSW_SQ, not 'HNSW'"
    ):
        build_ann(store, index_type="HNSW")
    store.table().delete("uri <> 'a1'")
    with pytest.raises(InputError, match="holds 1 rows: an ANN index needs at least 2"):
        build_ann(store)
    assert "ann" not in store.sidecar()


@pytest.mark.parametrize("bad", [0, -0.5, 1.01, float("nan"), True, "0.9", None])
def test_check_target_accepts_only_a_recall_in_0_1(bad):
    assert check_target(1) == 1.0 and check_target(0.95) == 0.95
    with pytest.raises(InputError, match=r"--target-recall must be a recall in \(0, 1\]"):
        check_target(bad)


def test_lower_bound_is_the_one_sided_95_percent_bound_of_the_mean():
    # mean 0.5, sample std sqrt(0.5), n = 2: 0.5 - 1.645 * sqrt(0.5) / sqrt(2) = 0.5 - 1.645 * 0.5
    assert lower_bound(np.array([1.0, 0.0])) == pytest.approx(0.5 - 0.8225)
    assert lower_bound(np.array([0.9, 0.9, 0.9])) == pytest.approx(0.9)  # no spread: the mean itself
    assert lower_bound(np.array([0.7])) == 0.7 and lower_bound(np.array([])) == 0.0
