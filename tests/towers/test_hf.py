"""omniret.towers.hf: local Hugging Face vision encoders and Whisper-style encoders as frozen towers."""

from __future__ import annotations

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


def test_whisper_pool_stride_averages_neighbouring_tokens():
    """pool_stride 2 (Qwen-Audio): 4 mel frames per token, each the mean of two encoder states."""
    cfg = tiny_config().towers["audio"]
    plain = build_tower(cfg)
    pooled = build_tower(TowerConfig(**{**cfg.__dict__, "pool_stride": 2}))
    pooled.load_state_dict(plain.state_dict())
    x = torch.randn(1, 8, 20)
    tokens, mask = pooled(x, torch.tensor([13]))
    assert tokens.shape == (1, 5, 16) and mask.sum().item() == 4  # ceil(20/4) tokens, ceil(13/4) real
    states = plain.encoder(input_features=torch.nn.functional.pad(x, (0, 12))).last_hidden_state
    torch.testing.assert_close(tokens[0, 1], states[0, 2:4].mean(0))


def test_a_clip_vision_tower_drops_its_class_token():
    """CLIP prepends a CLS token to the patch tokens; the tower keeps only the (H, W) grid."""
    cfg = TowerConfig(kind="hf-vision", modality="vision", dim=24, image_size=32, hf_config={
        "model_type": "clip_vision_model", "hidden_size": 24, "intermediate_size": 48, "num_hidden_layers": 1,
        "num_attention_heads": 2, "image_size": 32, "patch_size": 8})  # fmt: skip
    tower = build_tower(cfg)
    tokens, _ = tower(torch.randn(1, 3, 32, 32))
    assert tower.n_prefix == 1 and tokens.shape == (1, 16, 24) and tower.grid == (4, 4)
    hidden = tower.model(pixel_values=torch.randn(1, 3, 32, 32), output_hidden_states=True).hidden_states
    assert hidden[-1].shape[1] == 17


def test_feature_layer_picks_a_hidden_layer():
    cfg = tiny_config().towers["vision"]
    last = build_tower(cfg)
    penultimate = build_tower(TowerConfig(**{**cfg.__dict__, "feature_layer": -2}))
    penultimate.load_state_dict(last.state_dict())
    x = torch.randn(1, 3, 32, 32)
    hidden = last.model(pixel_values=x, output_hidden_states=True).hidden_states
    torch.testing.assert_close(penultimate(x)[0], hidden[-2])
    torch.testing.assert_close(last(x)[0], hidden[-1])


def test_missing_tower_directory_is_named(tmp_path):
    cfg = TowerConfig(kind="hf-vision", modality="vision", dim=8, path=str(tmp_path / "siglip-so400m"))
    with pytest.raises(FileNotFoundError, match=r"towers\.vision\.path.*siglip-so400m"):
        build_tower(cfg)


def test_hf_vision_from_directory(hf_dirs):
    t = build_tower(
        TowerConfig(kind="hf-vision", modality="vision", dim=24, image_size=32, path=str(hf_dirs / "siglip"))
    )
    assert t(torch.randn(2, 3, 32, 32))[0].shape == (2, 16, 24) and t.grid == (4, 4)
    assert t.recipe.resize == "squash" and t.tower_id.startswith("hf-vision:")


def test_hf_whisper_encoder_from_directory(hf_dirs):
    t = build_tower(
        TowerConfig(
            kind="hf-whisper-encoder", modality="audio", dim=16, n_mels=8, path=str(hf_dirs / "whisper")
        )
    )
    tokens, mask = t(torch.randn(1, 8, 12), torch.tensor([12]))
    assert tokens.shape == (1, 6, 16) and mask.all()
