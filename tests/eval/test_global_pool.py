"""omniret.eval.global_pool: every task against the union of the split's pools, with modality precision
and the pool's geometry, all checked against hand-computed numbers."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.datasets.writer import write_jsonl, write_task
from omniret.eval import BenchmarkFormatError, RandomRanker, load_tasks
from omniret.eval.global_pool import evaluate_pools, load_global_pool, pool_geometry
from omniret.eval.harness import CandidateCache
from omniret.inputs.media import EmptyMediaError

KS = [1, 5]


class ModalityFirstModel:
    """Hand-chosen raw vectors on axes [text, image, meaning a, meaning b]: the modality axes dominate,
    so in the mixed pool a query's own modality crowds out the right answer. Scores are plain dot
    products (no normalisation), so every ranking below is integer arithmetic."""

    model_id, weights_hash, recipes, dim = "modality-first", "0", {}, 4
    VECS: ClassVar = {
        "ta": [2, 0, 1, 0], "tb": [2, 0, 0, 1],  # text candidates (i2t pool)
        "ia": [0, 2, 1, 0], "ib": [0, 2, 0, 1],  # image candidates (t2i pool)
        "ma": [1, 1, 1, 0], "mb": [1, 1, 0, 1],  # image,text candidates (t2m pool)
        "qa": [1, 0, 3, 0], "qb": [1, 0, 0, 3], "qm": [1, 2, 0, 3],  # text queries
        "pa": [0, 1, 3, 0],  # image query
    }  # fmt: skip

    def __init__(self) -> None:
        self.encoded: Counter = Counter()

    def encode(self, inputs, *, batch_size=16, progress=False):
        rows = []
        for x in inputs:
            if x.image is not None and not Path(x.image).exists():
                raise EmptyMediaError(str(x.image), "file not found")
            key = x.text or Path(x.image).stem
            rows.append(self.VECS[key])
        self.encoded.update(x.text or Path(x.image).stem for x in inputs)
        return np.array(rows, dtype=np.float32)


def png(root: Path, name: str, color: tuple[int, int, int]) -> str:
    (root / "media").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), color).save(root / "media" / f"{name}.png")
    return f"media/{name}.png"


def layout(root: Path) -> Path:
    """Three tasks, three candidate modalities: i2t (text pool), t2i (image pool), t2m (image,text pool)."""
    texts = [{"did": "2:0", "modality": "text", "txt": "ta"}, {"did": "2:1", "modality": "text", "txt": "tb"}]
    write_task(root, "i2t", "test", [
        {"qid": "2:10", "query_modality": "image", "query_img_path": png(root, "pa", (255, 0, 0)), "pos_cand_list": ["2:0"]},
        {"qid": "2:11", "query_modality": "image", "query_img_path": "media/gone.png", "pos_cand_list": ["2:1"]},
    ], texts)  # fmt: skip
    images = [{"did": "1:0", "modality": "image", "img_path": png(root, "ia", (0, 255, 0))},
              {"did": "1:1", "modality": "image", "img_path": png(root, "ib", (0, 0, 255))}]  # fmt: skip
    write_task(root, "t2i", "test", [
        {"qid": "1:10", "query_modality": "text", "query_txt": "qa", "pos_cand_list": ["1:0"]},
        {"qid": "1:11", "query_modality": "text", "query_txt": "qb", "pos_cand_list": ["1:1"]},
    ], images)  # fmt: skip
    mixed = [{"did": "3:0", "modality": "image,text", "txt": "ma", "img_path": png(root, "ma", (9, 9, 9))},
             {"did": "3:1", "modality": "image,text", "txt": "mb", "img_path": png(root, "mb", (99, 9, 9))}]  # fmt: skip
    write_task(root, "t2m", "test", [
        {"qid": "3:10", "query_modality": "text", "query_txt": "qm", "pos_cand_list": ["3:1"]},
    ], mixed)  # fmt: skip
    return root


# Union order (task files sorted): ta 2:0, tb 2:1, ia 1:0, ib 1:1, ma 3:0, mb 3:1. Global scores:
#   qa [1,0,3,0]: ta 5, tb 2, ia 3, ib 0, ma 4, mb 1 -> ta, ma, ia, tb, mb, ib: positive ia at rank 3;
#                 top 5 = T, IT, I, T, IT -> one image: MP@1 0, MP@5 1/5
#   qb [1,0,0,3]: ta 2, tb 5, ia 0, ib 3, ma 1, mb 4 -> tb, mb, ib, ta, ma, ia: ib at rank 3, MP@5 1/5
#   pa [0,1,3,0]: ta 3, tb 0, ia 5, ib 2, ma 4, mb 1 -> ia, ma, ta, ib, mb, tb: ta at rank 3, MP@5 1/5;
#                 the second i2t query (gone.png) cannot be encoded: a miss, 0 on every metric
#   qm [1,2,0,3]: ta 2, tb 5, ia 4, ib 7, ma 3, mb 6 -> ib, mb, tb, ia, ma, ta: mb at rank 2;
#                 top 5 = I, IT, T, I, IT -> MP@1 0 ('image' is not 'image,text'), MP@5 2/5
GLOBAL = {
    "t2i": {"recall@1": 0, "recall@5": 1, "mrr": 1 / 3, "ndcg@10": 0.5,
            "modality_precision@1": 0, "modality_precision@5": 1 / 5},
    "i2t": {"recall@1": 0, "recall@5": 1 / 2, "mrr": 1 / 6, "ndcg@10": 0.25,
            "modality_precision@1": 0, "modality_precision@5": 1 / 10},
    "t2m": {"recall@1": 0, "recall@5": 1, "mrr": 1 / 2, "ndcg@10": 1 / math.log2(3),
            "modality_precision@1": 0, "modality_precision@5": 2 / 5},
}  # fmt: skip
# In each own pool every query finds its positive first and every hit has the right modality (pools of
# two: MP@5 is the share of the two); i2t's unreadable query halves its numbers.
LOCAL = {
    "t2i": dict.fromkeys(GLOBAL["t2i"], 1.0),
    "i2t": dict.fromkeys(GLOBAL["i2t"], 0.5),
    "t2m": dict.fromkeys(GLOBAL["t2m"], 1.0),
}


def metrics_of(results) -> dict:
    return {r.name: {k: r.metrics[k] for k in GLOBAL["t2i"]} for r in results}


def assert_metrics(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for task, m in want.items():
        for k, v in m.items():
            assert got[task][k] == pytest.approx(v), (task, k)


def test_global_pool_ranks_and_modality_precision_by_hand(tmp_path):
    root = layout(tmp_path)
    tasks = load_tasks(root)
    run = evaluate_pools(ModalityFirstModel(), tasks, root, pool="both", ks=KS)
    assert_metrics(metrics_of(run.global_), GLOBAL)
    assert_metrics(metrics_of(run.local), LOCAL)
    g = {r.name: r for r in run.global_}
    assert {r.pool for r in run.global_} == {"global"} and {r.pool for r in run.local} == {"local"}
    assert g["t2i"].n_candidates == 6 and g["t2m"].modality == "image,text" and g["t2m"].group == "T→(I,T)"
    assert [d for d, _ in g["t2i"].run[0][1]] == ["2:0", "3:0", "1:0", "2:1", "3:1", "1:1"]
    assert [q for q, _ in g["i2t"].skipped_queries] == ["2:11"]


def test_local_only_is_unchanged_and_both_encodes_each_candidate_once(tmp_path):
    root = layout(tmp_path)
    tasks = load_tasks(root)
    alone = evaluate_pools(ModalityFirstModel(), tasks, root, pool="local", ks=KS)
    assert_metrics(metrics_of(alone.local), LOCAL)
    assert not alone.global_ and alone.union is None
    model = ModalityFirstModel()
    evaluate_pools(model, tasks, root, pool="both", ks=KS)
    assert all(
        model.encoded[c] == 1 for c in ("ta", "tb", "ia", "ib", "ma", "mb")
    )  # local pools reuse the union
    assert model.encoded["qa"] == 1 and model.encoded["qm"] == 1  # queries encoded once for both pools


def test_union_embeddings_are_cached_by_content(tmp_path):
    root = layout(tmp_path)
    tasks, cache = load_tasks(root), CandidateCache(tmp_path / "cache")
    evaluate_pools(ModalityFirstModel(), tasks, root, pool="global", ks=KS, cache=cache)
    again = ModalityFirstModel()
    run = evaluate_pools(again, tasks, root, pool="global", ks=KS, cache=cache)
    assert not {"ta", "tb", "ia", "ib", "ma", "mb"} & set(again.encoded)  # the union came from the cache
    assert_metrics(metrics_of(run.global_), GLOBAL)
    assert load_global_pool(root).key == run.union.key
    extra = root / "cand_pool" / "local" / "mbeir_t2m_cand_pool.jsonl"
    extra.write_text(extra.read_text() + json.dumps({"did": "3:2", "modality": "text", "txt": "tc"}) + "\n")
    assert load_global_pool(root).key != run.union.key


def test_random_ranker_in_the_global_pool_is_exact(tmp_path):
    root = layout(tmp_path)
    run = evaluate_pools(RandomRanker(), load_tasks(root), root, pool="global", ks=KS)
    g = {r.name: r.metrics for r in run.global_}
    assert g["t2i"]["recall@1"] == pytest.approx(1 / 6)  # one positive among 6
    assert g["t2i"]["modality_precision@5"] == pytest.approx(2 / 6)  # 2 of 6 candidates are images
    assert g["t2m"]["modality_precision@1"] == pytest.approx(2 / 6)
    assert pool_geometry(run) is None  # no embeddings, no geometry


def test_union_deduplicates_by_did_and_rejects_conflicts(tmp_path):
    root = tmp_path / "b"
    same = {"did": "7:0", "modality": "text", "txt": "shared"}
    write_task(root, "a", "test", [{"qid": "7:1", "query_modality": "text", "query_txt": "x", "pos_cand_list": ["7:0"]}],
               [same, {"did": "7:2", "modality": "text", "txt": "only a"}])  # fmt: skip
    write_task(root, "b", "test", [{"qid": "8:1", "query_modality": "text", "query_txt": "y", "pos_cand_list": ["7:0"]}],
               [{"did": "8:0", "modality": "text", "txt": "only b"}, same])  # fmt: skip
    union = load_global_pool(root)
    assert [c.did for c in union.candidates] == [
        "7:0",
        "7:2",
        "8:0",
    ] and union.source == "union of local pools"
    write_jsonl(root / "cand_pool" / "local" / "mbeir_b_cand_pool.jsonl", [{**same, "txt": "different"}])
    with pytest.raises(
        BenchmarkFormatError, match=r"'7:0'.*mbeir_a_cand_pool\.jsonl.*mbeir_b_cand_pool\.jsonl"
    ):
        load_global_pool(root)


def test_union_file_is_used_when_present(tmp_path):
    root = layout(tmp_path)
    rows = [{"did": "2:0", "modality": "text", "txt": "ta"}, {"did": "1:0", "modality": "image", "img_path": "media/ia.png"},
            {"did": "9:9", "modality": "text", "txt": "tb"}]  # fmt: skip
    write_jsonl(root / "cand_pool" / "global" / "mbeir_union_test_cand_pool.jsonl", rows)
    union = load_global_pool(root)
    assert union.source == "union file" and [c.did for c in union.candidates] == ["2:0", "1:0", "9:9"]
    run = evaluate_pools(ModalityFirstModel(), load_tasks(root, pattern="t2i"), root, pool="global", ks=KS)
    # qa: ta 5, ia 3, tb(9:9) 2 -> ia 2nd; qb: ta 2, ia 0, tb 5 -> ib is not in the union file: no relevant
    assert run.global_[0].metrics["mrr"] == pytest.approx((1 / 2 + 0) / 2)


def test_pool_geometry_end_to_end(tmp_path):
    root = layout(tmp_path)
    run = evaluate_pools(ModalityFirstModel(), load_tasks(root), root, pool="global", ks=KS)
    geo = pool_geometry(run, k=1)
    # unit ta, tb = [2,0,1,0]/√5, [2,0,0,1]/√5: cosine 4/5; ma, mb = [1,1,1,0]/√3, [1,1,0,1]/√3: 2/3
    m = geo["modalities"]
    assert m["text"]["mean_pairwise_cosine"] == pytest.approx(4 / 5)
    assert m["image"]["mean_pairwise_cosine"] == pytest.approx(4 / 5)
    assert m["image,text"]["mean_pairwise_cosine"] == pytest.approx(2 / 3)
    assert m["query:text"]["n"] == 3 and m["query:image"]["n"] == 1  # the unreadable query is left out
    gap = next(g for g in geo["centroid_gaps"] if (g["a"], g["b"]) == ("image", "text"))
    # centroids [0,4,1,1] / 2√5 and [4,0,1,1] / 2√5: cosine 2/18, distance 4√2 / 2√5
    assert gap["cosine"] == pytest.approx(1 / 9) and gap["euclidean"] == pytest.approx(math.sqrt(8 / 5))
    # top 1: pa -> ia, qa -> ta, qb -> tb, qm -> ib: N_1 = [1, 1, 1, 1, 0, 0] over the union
    h = geo["hubness"]
    assert (h["max_k_occurrence"], h["hub_did"], h["hub_modality"]) == (1, "2:0", "text")
    assert h["hub_share"] == pytest.approx(1 / 4) and h["skewness"] == pytest.approx(-1 / math.sqrt(2))
    assert geo["n_candidates"] == 6 and geo["n_queries"] == 4


def test_cli_pool_both_with_geometry(tmp_path, monkeypatch):
    import omniret.eval.run as run

    root = layout(tmp_path)
    monkeypatch.setattr(run, "load_eval_model", lambda spec, verify=True: ModalityFirstModel())
    out = CliRunner().invoke(app, ["eval", "mbeir", str(root), "--model", "fake", "--pool", "both", "--geometry",
                                   "--k", "1,5", "--out", str(tmp_path / "r.json"),
                                   "--run-out", str(tmp_path / "run.trec"),
                                   "--report", str(tmp_path / "report.md")])  # fmt: skip
    assert out.exit_code == 0, out.output
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["pools"] == ["local", "global"] and rec["modality_ks"] == [1, 5]
    assert rec["tasks"]["t2i"]["pool"] == "local" and rec["tasks"]["t2i"]["metrics"]["recall@1"] == 1.0
    glob = rec["global"]
    assert glob["pool"] == "global" and glob["n_candidates"] == 6 and glob["tasks"]["t2i"]["pool"] == "global"
    assert glob["tasks"]["t2m"]["metrics"]["modality_precision@5"] == pytest.approx(2 / 5)
    assert glob["mean"]["recall@5"] == pytest.approx(5 / 6) and rec["mean"]["recall@5"] == pytest.approx(
        5 / 6
    )
    assert glob["groups"]["T→I"]["mrr"] == pytest.approx(1 / 3)
    assert rec["geometry"]["hubness"]["k"] == 10 and rec["geometry"]["hubness"]["max_k_occurrence"] == 4
    assert (tmp_path / "run.trec").stat().st_size > 0
    assert (tmp_path / "run.global.trec").read_text().splitlines()[0].split()[:4] == [
        "2:10",
        "Q0",
        "1:0",
        "1",
    ]
    text = (tmp_path / "report.md").read_text()
    assert "## Global pool" in text and "Modality precision@5" in text and "## Embedding geometry" in text
    assert "| t2i | T→I | 2 | 6 | 100.0 |" in text  # global recall@5 (queries 2, pool 6)
    assert "| t2i | T→I | 2 | 6 | 0.0 |" in text  # global modality precision@1
    assert "| t2i | T→I | 2 | 2 | 100.0 |" in text  # local recall@5
    bad = CliRunner().invoke(app, ["eval", "mbeir", str(root), "--model", "fake", "--geometry"])
    assert bad.exit_code != 0 and "--pool global" in bad.output


def test_unreadable_union_candidate_leaves_both_pools_and_is_listed_once(tmp_path):
    from omniret.eval.report import results_record

    root = layout(tmp_path)
    pool = root / "cand_pool" / "local" / "mbeir_t2i_cand_pool.jsonl"
    pool.write_text(
        pool.read_text() + json.dumps({"did": "1:2", "modality": "image", "img_path": "media/no.png"}) + "\n"
    )
    model = ModalityFirstModel()
    run = evaluate_pools(model, load_tasks(root), root, pool="both", ks=KS)
    assert_metrics(metrics_of(run.global_), GLOBAL)  # the same 6 candidates are ranked
    local = {r.name: r for r in run.local}
    assert [d for d, _ in local["t2i"].skipped_candidates] == ["1:2"] and local["t2i"].n_candidates == 2
    rec = results_record(
        model, run.local, ks=KS, split="test", global_results=run.global_, global_pool=run.union
    )
    assert rec["global"]["n_candidates"] == 6 and [c["did"] for c in rec["global"]["skipped_candidates"]] == [
        "1:2"
    ]
    assert "skipped_candidates" not in rec["global"]["tasks"]["t2i"]
    assert rec["tasks"]["t2i"]["skipped_candidates"][0]["did"] == "1:2"
