"""omniret.towers.standins: random towers of exactly the declared shapes (tests, counts, shape checks)."""

from __future__ import annotations

import pytest
import torch

from omniret.config import TowerConfig
from omniret.model import build_tower
from omniret.towers.standins import StandInAudioTower, StandInVisionTower


def test_stand_in_towers_have_declared_shapes():
    """The Whisper kind without a path (CTranslate2 cannot be randomly initialised) is a stand-in."""
    a = build_tower(
        TowerConfig(kind="whisper-tiny-en", modality="audio", dim=384, n_mels=80, tokens_per_second=50)
    )
    tokens, mask = a(torch.randn(1, 80, 301), lengths=torch.tensor([301]))
    assert tokens.shape == (1, 151, 384) and mask.all()  # 3.01 s at 50 tokens/s


def test_vision_stand_in_patchifies_to_the_declared_grid():
    t = build_tower(TowerConfig(kind="stand-in", modality="vision", dim=12, grid=(4, 4), image_size=32))
    assert isinstance(t, StandInVisionTower) and t.grid == (4, 4)
    tokens, mask = t(torch.randn(2, 3, 32, 32))
    assert tokens.shape == (2, 16, 12) and mask is None
    # token k is patch (k // 4, k % 4): changing only the top-right 8x8 patch changes only token 3
    x = torch.randn(1, 3, 32, 32)
    y = x.clone()
    y[..., :8, 24:] += 1.0
    changed = (t(x)[0] - t(y)[0]).abs().sum(-1)[0] > 0
    assert changed.nonzero().flatten().tolist() == [3]


def test_audio_stand_in_strides_mel_frames_at_the_token_rate_and_masks_padding():
    """25 tokens/s from 100 mel frames/s is a stride of 4: 10 frames pad to 12 -> 3 tokens."""
    t = build_tower(TowerConfig(kind="stand-in", modality="audio", dim=6, n_mels=8, tokens_per_second=25))
    assert isinstance(t, StandInAudioTower) and t.stride == 4
    tokens, mask = t(torch.randn(2, 8, 10), lengths=torch.tensor([10, 3]))
    assert tokens.shape == (2, 3, 6) and mask.sum(1).tolist() == [3, 1]
    assert t(torch.randn(1, 8, 10))[1] is None  # no lengths: no mask


def test_a_vision_stand_in_needs_a_grid():
    with pytest.raises(ValueError, match=r"'stand-in' needs a token grid \(towers\.vision\.grid\)"):
        build_tower(TowerConfig(kind="stand-in", modality="vision", dim=8))
