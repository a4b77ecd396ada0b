"""The paper's towers and composer loaded from local Hugging Face directories (tiny random ones saved here)."""

import torch

from omniret.config import ComposerConfig, TowerConfig
from omniret.model import Composer, build_tower


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


def test_hf_text_composer_from_directory(hf_dirs):
    comp = Composer.from_config(ComposerConfig(path=str(hf_dirs / "bert")), dim=32)
    hidden, mask = comp(["<image> hello"], [[torch.randn(4, 32)]])
    n_text = len(comp.tokenizer(" hello", add_special_tokens=False)["input_ids"])
    assert hidden.shape[-1] == 32 and int(mask.sum()) == 1 + 4 + n_text + 1  # [CLS] media text [SEP]
