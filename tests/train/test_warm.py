"""omniret.train.warm: the warm start before stage 1 pulls media toward their paired texts and gives the
pooler the composer's text geometry, without gradients through the composer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from omniret.inputs import Sample
from omniret.model import Media
from omniret.train.config import TrainConfig
from omniret.train.loop import Trainer
from omniret.train.warm import _labels, _soft_ce, media_only, run_warm_start
from tests.helpers.builders import config


def test_warm_start_aligns_media_and_text_before_stage_one(tmp_path, dataset):
    cfg = config(tmp_path, dataset, steps=1, warm_start={"steps": 40, "lr": 3e-3})
    trainer = Trainer(cfg, log=lambda *_: None)
    trainer.run()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    warm = [r for r in rows if "warm_step" in r]
    assert [r["warm_step"] for r in warm] == list(range(1, 41))
    first, last = warm[:5], warm[-5:]
    assert np.mean([r["align"] for r in last]) < 0.8 * np.mean([r["align"] for r in first])
    assert np.mean([r["relational"] for r in last]) < 0.5 * np.mean([r["relational"] for r in first])
    assert rows[len(warm)]["step"] == 1  # stage 1 follows the warm start in the same log


def test_items_with_the_same_text_are_all_positives():
    labels = _labels(["red", "blue", "red"])
    torch.testing.assert_close(labels, torch.tensor([[0.5, 0, 0.5], [0, 1, 0], [0.5, 0, 0.5]]))
    logits = torch.randn(3, 3)
    one_hot = _labels(["a", "b", "c"])  # distinct texts: plain cross-entropy on the diagonal
    torch.testing.assert_close(_soft_ce(logits, one_hot), F.cross_entropy(logits, torch.arange(3)))
    # two positives: the mean of their log-probabilities, weighted a half each
    want = -(0.5 * (logits[0].log_softmax(0)[0] + logits[0].log_softmax(0)[2]) + logits[1].log_softmax(0)[1]
             + 0.5 * (logits[2].log_softmax(0)[0] + logits[2].log_softmax(0)[2])) / 3  # fmt: skip
    torch.testing.assert_close(_soft_ce(logits, labels), want)


def test_only_single_media_streams_without_text_take_part_in_alignment():
    img = Media("image", torch.zeros(3, 4, 4))
    groups = [[Sample(media=[img])], [Sample(text="a", media=[img])], [Sample(text="b")],
              [Sample(media=[img]), Sample(media=[img])], [Sample(media=[img, img])]]  # fmt: skip
    assert media_only(groups) == [0, 4]  # 1: has text; 2: no media; 3: a late-fused video's two streams


def test_no_warm_start_steps_touch_nothing():
    def untouched(*a, **k):
        pytest.fail("the warm start ran")

    assert run_warm_start(None, untouched, untouched, cfg=TrainConfig()) == []
