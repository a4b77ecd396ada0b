"""omniret.train.dev_eval: the dev split is by positive id, and checkpoints are chosen on recall of
held-out pairs or a capped benchmark, with the model's training mode left as it was."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from omniret.train.config import EvalConfig
from omniret.train.data import Pair
from omniret.train.dev_eval import pair_eval, quick_eval, split_dev
from omniret.train.loop import Trainer
from tests.eval.conftest import FakeModel
from tests.helpers.builders import config, mbeir_fixture, pairs_both_ways


class TableEmbedder:
    """Embeds a text or an image file name by a fixed table; ``model`` is a module in training mode."""

    VECS: ClassVar = {"qa": [1, 0.1], "qa2": [0, 1], "qb": [0.9, 0.1], "qc": [-1, 0],
            "a.png": [1, 0], "b.png": [0, 1], "c.png": [-1, 0], "t": [1, 0], "x.wav": [1, 0]}  # fmt: skip

    def __init__(self) -> None:
        self.model = torch.nn.Linear(1, 1).train()
        self.instructions: list = []

    def encode(self, inputs):
        self.instructions += [x.instruction for x in inputs]
        return np.array(
            [self.VECS[x.text or Path(x.image or x.audio).name] for x in inputs], dtype=np.float32
        )


def test_dev_split_is_deterministic_disjoint_and_keeps_both_directions_together():
    pairs = pairs_both_ways(400)
    train, dev = split_dev(pairs, 0.1)
    assert len(train) + len(dev) == len(pairs) and 40 <= len(dev) <= 120
    assert {p.id for p in train}.isdisjoint({p.id for p in dev})
    assert all(Counter(p.id for p in dev)[i] == 2 for i in {p.id for p in dev})
    assert split_dev(pairs, 0.1) == (train, dev)
    assert split_dev(pairs, 0.0) == (pairs, [])


def test_dev_pairs_are_held_out_of_training_and_scored(tmp_path, dataset):
    cfg = config(tmp_path, dataset, out="dev")
    cfg.data.dev_fraction = 0.5
    t = Trainer(cfg)
    assert t.dev_pairs and {p.id for p in t.pairs}.isdisjoint({p.id for p in t.dev_pairs})
    scores = pair_eval(t.embedder, t.dev_pairs)
    assert scores and all(0.0 <= v <= 1.0 for v in scores.values())
    chunks = {f"{p.dataset}:{p.task}" for p in t.dev_pairs if sum(q.id != p.id for q in t.dev_pairs
                                                                  if q.task == p.task) > 0}  # fmt: skip
    assert set(scores) == chunks  # a chunk with one positive has nothing to rank and is left out


def test_pair_recall_by_hand():
    """Pool a, b, c = [1, 0], [0, 1], [-1, 0]. qa finds a; qa2 ([0, 1]) finds b first and a second;
    qb ([0.9, 0.1]) finds a first and b second; qc finds c: R@1 2/4, R@2 4/4."""
    pairs = [Pair("d", "TI", {"text": q}, {"image": f"{pid}.png"}, id=pid, instructions=("Find it.",))
             for q, pid in (("qa", "a"), ("qa2", "a"), ("qb", "b"), ("qc", "c"))]  # fmt: skip
    lone = Pair("d", "AT", {"audio": "x.wav"}, {"text": "t"}, id="only")  # one positive: nothing to rank
    emb = TableEmbedder()
    assert pair_eval(emb, [*pairs, lone], k=1) == {"d:TI": 0.5}
    assert pair_eval(emb, pairs, k=2) == {"d:TI": 1.0}
    assert emb.model.training and set(emb.instructions) == {None, "Find it."}  # queries carry theirs


def test_quick_eval_caps_the_queries_and_restores_the_training_mode(tmp_path):
    class Counting(FakeModel):
        def __init__(self) -> None:
            self.model, self.queries = torch.nn.Linear(1, 1).eval(), 0

        def encode(self, inputs, **kw):
            self.queries += sum(x.instruction is not None for x in inputs)  # only queries have one here
            return super().encode(inputs, **kw)

    model = Counting()
    scores = quick_eval(
        model, EvalConfig(root=str(mbeir_fixture(tmp_path)), tasks="toy_task0", max_queries=2)
    )
    assert scores == {"toy_task0": 1.0} and model.queries == 2  # 4 candidates: every positive is in the top 5
    assert not model.model.training
