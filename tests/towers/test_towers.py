import pytest
import torch

from omniret.config import TowerConfig
from omniret.model import build_tower
from tests.conftest import tiny_config


def towers():
    cfg = tiny_config()
    return build_tower(cfg.towers["vision"]), build_tower(cfg.towers["audio"])


def test_hf_siglip_tower_tokens_and_grid():
    vision, _ = towers()
    tokens, mask = vision(torch.randn(2, 3, 32, 32))
    assert tokens.shape == (2, 16, 24) and mask is None and vision.grid == (4, 4)


def test_hf_whisper_tower_is_trimmed_to_real_length():
    _, audio = towers()
    tokens, mask = audio(torch.randn(2, 8, 20), lengths=torch.tensor([20, 9]))
    # 32-frame window -> 16 tokens at stride 2; the longest item (20 frames) needs 10 tokens.
    assert tokens.shape == (2, 10, 16)
    assert mask.sum(1).tolist() == [10, 5]


def test_whisper_long_audio_is_encoded_window_by_window():
    _, audio = towers()
    x = torch.randn(1, 8, 70)  # 32-frame windows: 32 + 32 + 6 frames -> 16 + 16 + 3 tokens
    tokens, mask = audio(x)
    assert tokens.shape == (1, 35, 16) and mask.all()
    first, _ = audio(x[..., :32])
    torch.testing.assert_close(tokens[:, :16], first)


def test_towers_are_frozen_and_stay_in_eval():
    vision, _audio = towers()
    vision.train()
    assert not vision.training and not any(p.requires_grad for p in vision.parameters())


def test_stand_in_towers_have_declared_shapes():
    v = build_tower(
        TowerConfig(kind="efficientnet-lite0", modality="vision", dim=1280, grid=(7, 7), image_size=224)
    )
    assert v(torch.randn(1, 3, 224, 224))[0].shape == (1, 49, 1280)
    a = build_tower(
        TowerConfig(kind="whisper-tiny-en", modality="audio", dim=384, n_mels=80, tokens_per_second=50)
    )
    tokens, mask = a(torch.randn(1, 80, 301), lengths=torch.tensor([301]))
    assert tokens.shape == (1, 151, 384) and mask.all()  # 3.01 s at 50 tokens/s


def test_missing_tower_directory_is_named(tmp_path):
    cfg = TowerConfig(kind="hf-vision", modality="vision", dim=8, path=str(tmp_path / "siglip-so400m"))
    with pytest.raises(FileNotFoundError, match=r"towers\.vision\.path.*siglip-so400m"):
        build_tower(cfg)
