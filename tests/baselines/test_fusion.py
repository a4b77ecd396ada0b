"""omniret.baselines.fusion: UniIR score-level fusion embeds each field of an input alone with the base
model and sums the unit vectors; the random ranker carries no embeddings at all."""

from __future__ import annotations

import math

import numpy as np

from omniret.baselines.fusion import RandomRanker, ScoreFusion
from omniret.inputs import OmniInput
from tests.eval.conftest import FakeModel


class Recorder:
    """A base model that records the inputs it is given: a text embeds as [0, 1], any medium as ``media``."""

    model_id, weights_hash, recipes, dim, precision = "rec", "h1", {"r": 1}, 2, "bf16"

    def __init__(self, media=(1.0, 0.0)) -> None:
        self.media, self.seen = list(media), []

    def encode(self, inputs, *, batch_size=16, progress=False):
        self.seen += inputs
        return np.array([[0.0, 1.0] if x.text else self.media for x in inputs], dtype=np.float32)


def test_score_fusion_sums_unimodal_embeddings(tmp_path):
    (tmp_path / "v2.png").write_bytes(b"x")
    fused = ScoreFusion(FakeModel()).encode(
        [OmniInput(text="v0", image=tmp_path / "v2.png"), OmniInput(text="v3")]
    )
    np.testing.assert_allclose(fused[0], np.array([1, 1, 0, 0]) / math.sqrt(2), atol=1e-6)
    np.testing.assert_allclose(fused[1], [0, 0, 1, 0], atol=1e-6)


def test_each_field_is_embedded_alone_and_the_instruction_goes_with_the_text(tmp_path):
    base = Recorder()
    fused = ScoreFusion(base)
    fused.encode([OmniInput(video=tmp_path / "v.mp4", audio=tmp_path / "a.wav", text="up", span=(1.0, 2.0),
                            instruction="Find it.")])  # fmt: skip
    parts = {(x.video, x.audio, x.text, x.instruction, x.span) for x in base.seen}
    assert parts == {
        (tmp_path / "v.mp4", None, None, None, (1.0, 2.0)),
        (None, tmp_path / "a.wav", None, None, (1.0, 2.0)),
        (None, None, "up", "Find it.", None),
    }
    assert (fused.model_id, fused.weights_hash, fused.recipes, fused.dim, fused.precision) == (
        "fusion:rec", "h1", {"r": 1}, 2, "bf16"
    )  # fmt: skip


def test_parts_that_cancel_fuse_to_a_zero_row_not_nan(tmp_path):
    out = ScoreFusion(Recorder()).encode([OmniInput(text="up", image=tmp_path / "x.png")])
    np.testing.assert_allclose(out, [[1 / math.sqrt(2), 1 / math.sqrt(2)]], atol=1e-6)
    cancel = ScoreFusion(Recorder(media=(0.0, -1.0))).encode([OmniInput(text="up", image=tmp_path / "x.png")])
    assert np.array_equal(cancel, np.zeros((1, 2), dtype=np.float32))


def test_the_random_ranker_has_an_identity_but_no_encoder():
    assert (RandomRanker.model_id, RandomRanker.dim) == ("random", 0) and not hasattr(RandomRanker, "encode")
