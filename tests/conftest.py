"""Tiny random-weight configs of the real architectures (BERT, Qwen2, SigLIP, Whisper)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Exactness tests (batch invariance, cache agreement at 1e-6) run the heads in fp32; bf16 autocast,
# the default on CPUs with native bf16, is tested against fp32 explicitly (test_api.py).
os.environ["OMNIRET_PRECISION"] = "fp32"

import json

import yaml

from omniret.config import ComposerConfig, ModelConfig, from_dict
from tests.helpers.builders import swatch_pairs
from tests.helpers.media import sine, write_audio

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


@pytest.fixture(scope="session")
def hf_dirs(tmp_path_factory):
    """Tiny random SigLIP, Whisper and BERT saved as local Hugging Face directories."""
    import json

    from transformers import AutoConfig, AutoModel, WhisperConfig, WhisperModel

    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)  # the same tiny towers whichever tests ran before (training tests compare losses)
    cfg = tiny_config_dict()
    vision = dict(cfg["towers"]["vision"]["hf_config"])
    model = AutoModel.from_config(AutoConfig.for_model(vision.pop("model_type"), **vision))
    model.save_pretrained(root / "siglip")
    (root / "siglip" / "preprocessor_config.json").write_text(
        json.dumps({"do_center_crop": False, "image_mean": [0.5] * 3, "image_std": [0.5] * 3})
    )
    whisper = WhisperConfig(**cfg["towers"]["audio"]["hf_config"], decoder_layers=1, decoder_attention_heads=2,
                            decoder_ffn_dim=32)  # fmt: skip
    WhisperModel(whisper).save_pretrained(root / "whisper")
    from omniret.model.composer import load_backbone

    bert, tok = load_backbone(ComposerConfig(arch="bert", hf_config=cfg["composer"]["hf_config"]))
    bert.save_pretrained(root / "bert")
    tok.save_pretrained(root / "bert")
    return root


def local_config_dict(hf_dirs) -> dict:
    """The tiny config with towers and composer loaded from local directories (so features are cacheable)."""
    data = tiny_config_dict()
    data["towers"]["vision"]["path"] = str(hf_dirs / "siglip")
    data["towers"]["audio"]["path"] = str(hf_dirs / "whisper")
    data["composer"] = {"path": str(hf_dirs / "bert"), "lora": {"r": 4, "alpha": 16, "dropout": 0.0}}
    return data


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def ckpt(hf_dirs, tmp_path_factory):
    """A tiny real-architecture model saved as a checkpoint, so every process loads identical weights."""
    from omniret.checkpoint import save_checkpoint
    from omniret.model import OmniRet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(OmniRet.build(from_dict(ModelConfig, local_config_dict(hf_dirs))), path)
    return path


def guarded(fn, *, fifos=(), timeout: float = 60.0):
    """``fn()`` in a thread; fails (instead of hanging) when it does not finish within ``timeout``."""
    import threading

    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as err:  # re-raised in the test's thread
            out["error"] = err

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        for fifo in fifos:  # release an open() blocked on a FIFO, so the thread can end
            try:
                os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
            except OSError:
                pass
        t.join(5)
        pytest.fail(f"hung for more than {timeout:.0f} s (a FIFO or device was opened?)")
    if "error" in out:
        raise out["error"]
    return out["value"]


COLOURS = {"red": (255, 0, 0), "green": (0, 200, 0), "blue": (0, 0, 255), "yellow": (250, 250, 0)}


@pytest.fixture
def dataset(tmp_path, hf_dirs):
    """Colour swatches <-> colour names and tones <-> 'low'/'high', as pairs.jsonl + a tiny model YAML."""
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    rows = swatch_pairs(root, COLOURS, dataset="swatches", shades=3, step=20)
    for name, freq in (("low", 200), ("high", 3000)):
        for k in range(2):
            rel = f"snd/{name}{k}.wav"
            (root / "snd").mkdir(exist_ok=True)
            write_audio(root / rel, sine(freq * (1 + 0.1 * k), 0.3, 16000), 16000)
            rows.append(
                {
                    "dataset": "tones",
                    "task": "AT",
                    "query": {"audio": rel},
                    "positive": {"text": name},
                    "id": name,
                }
            )
    (root / "train" / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    model_yaml = tmp_path / "tiny.yaml"
    model_yaml.write_text(yaml.safe_dump(local_config_dict(hf_dirs)))
    return root, model_yaml


@pytest.fixture
def tiny_ckpt(tmp_path):
    """A tiny random-tower model saved as a checkpoint of this test's own (tests corrupt its bytes)."""
    from omniret.checkpoint import save_checkpoint
    from omniret.model import OmniRet

    torch.manual_seed(0)
    return save_checkpoint(OmniRet.build(tiny_config()), tmp_path / "ckpt")


def tiny_embedder(hf_dirs, cache=None, **media):
    """An Embedder of the tiny local-tower model; ``media`` overrides its media settings."""
    from omniret.api import Embedder
    from omniret.model import OmniRet

    data = local_config_dict(hf_dirs)
    data["media"] = {"max_frames": 3, **media}
    return Embedder(OmniRet.build(from_dict(ModelConfig, data)), cache=cache)


@pytest.fixture
def media_files(tmp_path) -> dict:
    """Two random images, two tones of different pitch and length, and a two-colour video."""
    import numpy as np
    from PIL import Image

    from tests.helpers.media import write_video

    rng = np.random.default_rng(0)
    out = {}
    for i in range(2):
        img = Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
        out[f"img{i}"] = tmp_path / f"img{i}.png"
        img.save(out[f"img{i}"])
        out[f"wav{i}"] = write_audio(
            tmp_path / f"tone{i}.wav", sine(300 + 200 * i, 0.3 + 0.1 * i, 16000), 16000
        )
    out["vid"] = write_video(tmp_path / "v.mp4", [(255, 0, 0), (0, 0, 255)], size=32)
    return out


def mixed_inputs(files: dict) -> list:
    """Every kind of input over ``media_files``: text, image, audio, video, composed, a video span."""
    from omniret.inputs import OmniInput

    return [
        OmniInput(text="a query", instruction="Find the image."),
        OmniInput(image=files["img0"]),
        OmniInput(audio=files["wav0"], text="louder"),
        OmniInput(video=files["vid"]),
        OmniInput(image=files["img1"], text="make it red", instruction="Retrieve the modified image."),
        OmniInput(audio=files["wav1"]),
        OmniInput(text="another text"),
        OmniInput(video=files["vid"], span=(1.0, 2.0)),
    ]
