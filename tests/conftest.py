"""Tiny random-weight configs of the real architectures (BERT, Qwen2, SigLIP, Whisper)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from omniret.config import ModelConfig, from_dict

BERT = dict(
    vocab_size=300,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=128,
)
QWEN2 = dict(
    vocab_size=300,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=64,
    max_position_embeddings=128,
    tie_word_embeddings=False,
)


def tiny_config_dict(composer: str = "bert", pooler: str = "aswp") -> dict:
    return {
        "name": "tiny",
        "dim": 32,
        "towers": {
            "vision": {
                "kind": "hf-vision",
                "modality": "vision",
                "dim": 24,
                "grid": [4, 4],
                "image_size": 32,
                "hf_config": {
                    "model_type": "siglip_vision_model",
                    "hidden_size": 24,
                    "intermediate_size": 48,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "image_size": 32,
                    "patch_size": 8,
                },
            },
            "audio": {
                "kind": "hf-whisper-encoder",
                "modality": "audio",
                "dim": 16,
                "n_mels": 8,
                "hf_config": {
                    "d_model": 16,
                    "encoder_layers": 1,
                    "encoder_attention_heads": 2,
                    "encoder_ffn_dim": 32,
                    "num_mel_bins": 8,
                    "max_source_positions": 16,
                },
            },
        },
        "resampler": {"num_latents": 4, "depth": 2, "heads": 2, "dim_head": 16, "video_grid": [2, 2, 2]},
        "composer": {
            "arch": composer,
            "hf_config": BERT if composer == "bert" else QWEN2,
            "append_eos": composer != "bert",
            "lora": {"r": 4, "alpha": 16, "dropout": 0.0},
        },
        "pooler": {
            "kind": pooler,
            "num_latents": 8,
            "num_refs": 6,
            "num_slices": 40,
            "heads": 2,
            "dim_head": 16,
            "num_vectors": 3,
        },
    }


def tiny_config(composer: str = "bert", pooler: str = "aswp") -> ModelConfig:
    return from_dict(ModelConfig, tiny_config_dict(composer, pooler))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
