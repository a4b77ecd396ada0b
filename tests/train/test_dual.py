"""omniret.train.dual: the dual-encoder baseline trains on single-field media<->text pairs, holds out
whole ids for early stopping, and scores recall@1 within each task."""

from __future__ import annotations

import json

import pytest
import torch

from omniret.config import ConfigError
from omniret.train.data import Pair
from omniret.train.dual import recall_at_1, split_holdout, train_dual, usable
from tests.helpers.builders import pairs_both_ways


class Table:
    """``FeatureTable.embed`` over fixed rows: a side's single value names its vector."""

    def __init__(self, rows: dict[str, list[float]]) -> None:
        self.rows = rows

    def embed(self, sides: list[dict]) -> torch.Tensor:
        return torch.tensor([self.rows[next(iter(s.values()))] for s in sides])


def test_usable_pairs_are_single_field_with_media():
    from omniret.train.data import Pair

    assert usable(Pair("d", "TI", {"text": "a"}, {"image": "x.png"}, "1"))
    assert not usable(Pair("d", "TT", {"text": "a"}, {"text": "b"}, "1"))  # nothing to learn
    assert not usable(Pair("d", "(I,T)I", {"image": "x.png", "text": "a"}, {"image": "y.png"}, "1"))


def test_the_holdout_is_by_id_deterministic_and_about_the_asked_share():
    pairs = pairs_both_ways(1000)
    train, held = split_holdout(pairs, 0.1)
    assert {p.id for p in train}.isdisjoint({p.id for p in held}) and len(train) + len(held) == len(pairs)
    assert 0.07 < len(held) / len(pairs) < 0.13 and split_holdout(pairs, 0.1) == (train, held)
    assert split_holdout(pairs, 0.0) == (pairs, [])


def test_recall_at_1_is_the_mean_over_tasks_of_in_task_hits():
    """TI: 'a' finds a.png, 'b' finds a.png too (wrong): 1/2. IT: one pair, its own positive: 1."""
    table = Table({"a": [1.0, 0.0], "b": [0.9, 0.1], "a.png": [1.0, 0.0], "b.png": [0.0, 1.0], "c.png": [1.0, 1.0],
                   "c": [1.0, 1.0]})  # fmt: skip
    pairs = [Pair("d", "TI", {"text": "a"}, {"image": "a.png"}, "a"),
             Pair("d", "TI", {"text": "b"}, {"image": "b.png"}, "b"),
             Pair("d", "IT", {"image": "c.png"}, {"text": "c"}, "c")]  # fmt: skip
    assert recall_at_1(table, pairs) == pytest.approx((1 / 2 + 1) / 2)
    assert recall_at_1(table, []) == 0.0


def test_train_dual_refuses_what_it_cannot_learn_from(tmp_path):
    with pytest.raises(ConfigError, match="steps >= 1 and batch >= 2, got steps=0"):
        train_dual([], tmp_path / "out", steps=0)
    f = tmp_path / "pairs.jsonl"
    f.write_text(json.dumps({"dataset": "d", "task": "TT", "query": {"text": "a"}, "positive": {"text": "b"},
                             "id": "1"}) + "\n")  # fmt: skip
    with pytest.raises(ConfigError, match="no single-modality media<->text"):
        train_dual([str(f)], tmp_path / "out", steps=5, log=lambda *_: None)
    assert not (tmp_path / "out").exists()
