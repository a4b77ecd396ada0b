"""omniret.train.objectives, the training additions of issue 11: negatives curriculum, instruction mix,
text anchor and self-negatives, alone and through the Trainer."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from omniret.config import ConfigError, QueryInstructionConfig
from omniret.instructions import default_instruction
from omniret.train.data import Pair
from omniret.train.objectives import (
    CurriculumConfig,
    InstructionMixConfig,
    global_share,
    pick_instruction,
    text_anchor_loss,
)

WORDS = QueryInstructionConfig(generic="Retrieve the item that matches the query.",
                               target="Retrieve {article} {modality} that matches the query.")  # fmt: skip


def test_global_share_ramps_linearly_from_start_to_weight():
    cfg = CurriculumConfig(start=10, ramp=4, weight=0.5)
    assert [global_share(s, cfg) for s in (0, 9, 10, 11, 12, 13, 50)] == [0, 0, 0.125, 0.25, 0.375, 0.5, 0.5]
    assert global_share(100, CurriculumConfig()) == 0.0
    with pytest.raises(ConfigError, match="weight"):
        CurriculumConfig(weight=1.5)


def test_instruction_mix_draws_with_its_probabilities_and_never_when_off():
    mix = InstructionMixConfig(target=0.25, generic=0.15)
    rng = random.Random(0)
    got = Counter(pick_instruction(("Find a drawing.",), ["image"], rng, mix, WORDS) for _ in range(4000))
    assert abs(got["Retrieve an image that matches the query."] / 4000 - 0.25) < 0.03
    assert abs(got[WORDS.generic] / 4000 - 0.15) < 0.03
    assert abs(got["Find a drawing."] / 4000 - 0.60) < 0.03
    a, b = random.Random(5), random.Random(5)  # off: the rng is used exactly as before the mix existed
    off = InstructionMixConfig()
    assert [pick_instruction(("x", "y"), ["image"], a, off, WORDS) for _ in range(20)] == [
        b.choice(("x", "y")) for _ in range(20)
    ]
    with pytest.raises(ConfigError):
        InstructionMixConfig(target=0.8, generic=0.3)


def test_text_anchor_is_zero_for_the_same_geometry_and_matches_a_hand_value():
    torch.manual_seed(0)
    mean = torch.randn(5, 8)
    rotation = torch.linalg.qr(torch.randn(8, 8))[0]
    assert text_anchor_loss(mean @ rotation, mean).item() == pytest.approx(
        0.0, abs=1e-6
    )  # rotation keeps cosines
    e = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # pooled: identical
    m = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # sentence embeddings: orthogonal
    assert text_anchor_loss(e, m).item() == pytest.approx(0.5)  # off-diagonals (1 - 0)^2, 2 of 4 entries
    emb = torch.randn(4, 6, requires_grad=True)
    text_anchor_loss(emb, torch.randn(4, 3)).backward()
    assert emb.grad is not None and F.normalize(emb, dim=-1).shape == (4, 6)
    assert text_anchor_loss(torch.randn(1, 6), torch.randn(1, 3)).item() == 0.0


def test_trainer_mixes_in_global_negatives_and_adds_the_anchor(tmp_path, dataset):
    from omniret.train.loop import Trainer
    from tests.helpers.builders import config

    chunk = {"negatives_scope": "per_dataset_chunk", "diversity_weight": 0.0}
    full = Trainer(config(tmp_path, dataset, out="full", loss=chunk,
                          negatives_curriculum={"start": 0, "ramp": 1, "weight": 1.0}))  # fmt: skip
    wide = Trainer(config(tmp_path, dataset, out="wide", loss={**chunk, "negatives_scope": "global"}))
    local = Trainer(config(tmp_path, dataset, out="local", loss=chunk))
    (a, _, extra), (b, _, _), (c, _, _) = full.loss_at(0), wide.loss_at(0), local.loss_at(0)
    assert extra["global_share"] == 1.0
    assert a.contrastive.item() == pytest.approx(b.contrastive.item(), rel=1e-5)
    assert a.contrastive.item() != pytest.approx(c.contrastive.item(), rel=1e-3)  # the scope matters here
    anchored = Trainer(config(tmp_path, dataset, out="anch", loss=chunk, text_anchor_weight=2.0))
    d, _, extra = anchored.loss_at(0)
    assert extra["anchor"].item() > 0
    assert d.total.item() == pytest.approx(c.total.item() + 2.0 * extra["anchor"].item(), rel=1e-5)


def test_self_negatives_are_drawn_from_cross_modal_pairs_only():
    from omniret.train.objectives import self_negative_rows

    batch = [Pair("d", "TI", {"text": "a"}, {"image": "a.png"}, id="a"),
             Pair("d", "TT", {"text": "b"}, {"text": "b2"}, id="b"),
             Pair("d", "(I,T)I", {"image": "c.png", "text": "red"}, {"image": "c2.png"}, id="c")]  # fmt: skip
    assert self_negative_rows(batch, random.Random(0), 1.0) == [0, 2]
    assert self_negative_rows(batch, random.Random(0), 0.0) == []
    drawn = Counter(i for s in range(2000) for i in self_negative_rows(batch, random.Random(s), 0.5))
    assert 1 not in drawn and all(abs(drawn[i] / 2000 - 0.5) < 0.05 for i in (0, 2))


def test_trainer_adds_the_query_content_as_extra_candidates(tmp_path, dataset):
    from omniret.train.loop import Trainer
    from tests.helpers.builders import config

    loss = {"negatives_scope": "per_dataset_chunk", "diversity_weight": 0.0}
    with_neg = Trainer(config(tmp_path, dataset, out="sn", loss=loss, self_negatives=1.0))
    without = Trainer(config(tmp_path, dataset, out="nosn", loss=loss))
    a, batch, extra = with_neg.loss_at(0)
    b, _, _ = without.loss_at(0)
    assert extra["self_negatives"] == len(batch)  # every pair of the colour/tone data is cross-modal
    assert a.contrastive.item() != pytest.approx(b.contrastive.item(), rel=1e-4)


def test_generic_instruction_queries_get_no_self_negative(tmp_path, dataset):
    """A generic instruction does not name the result's modality, so the query's own modality may be right."""
    from omniret.train.loop import Trainer
    from tests.helpers.builders import config

    cfg = config(tmp_path, dataset, out="gen", self_negatives=1.0, instruction_mix={"generic": 1.0},
                 model_overrides=["query_instructions.generic=Find the matching item."])  # fmt: skip
    _, _, extra = Trainer(cfg).loss_at(0)
    assert "self_negatives" not in extra


def test_a_composed_query_without_filter_targets_its_own_medium():
    from omniret.index import _composed_target
    from omniret.inputs import OmniInput

    assert _composed_target(OmniInput(image="a.png", text="make it red")) == ["image"]
    assert _composed_target(OmniInput(audio="a.wav", text="but faster")) == ["audio"]
    assert _composed_target(OmniInput(image="a.png")) is None  # plain media: every modality
    assert _composed_target(OmniInput(text="coffee")) is None
    assert default_instruction(WORDS, _composed_target(OmniInput(image="a.png", text="x"))) == (
        "Retrieve an image that matches the query."
    )
