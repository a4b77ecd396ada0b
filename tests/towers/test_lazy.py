"""LazyTower: what is known from the config without building; the real tower on first use."""

from __future__ import annotations

import numpy as np
import torch

from omniret.checkpoint import load_checkpoint
from omniret.config import ModelConfig, from_dict
from omniret.embedder import Embedder
from omniret.inputs import OmniInput
from omniret.towers import LazyTower, build_tower
from tests.conftest import local_config_dict


def vision_cfg(hf_dirs):
    return from_dict(ModelConfig, local_config_dict(hf_dirs)).towers["vision"]


def test_config_facts_without_building_and_the_same_tower_on_use(hf_dirs):
    cfg = vision_cfg(hf_dirs)
    lazy, eager = LazyTower(cfg), build_tower(cfg)
    assert (lazy.modality, lazy.dim, lazy.recipe, lazy.tower_id) == (eager.modality, eager.dim, eager.recipe,
                                                                     eager.tower_id)  # fmt: skip
    assert not lazy.built and list(lazy.parameters()) == []
    assert lazy.grid == eager.grid and lazy.built  # anything else builds it
    x = torch.randn(2, 3, cfg.image_size, cfg.image_size)
    torch.testing.assert_close(lazy(x)[0], eager(x)[0])
    assert not lazy.training and not any(p.requires_grad for p in lazy.parameters())  # frozen like any tower


def test_moves_before_the_build_are_replayed(hf_dirs):
    lazy = LazyTower(vision_cfg(hf_dirs)).to(torch.float64)
    assert not lazy.built
    assert {p.dtype for p in lazy.get().parameters()} == {torch.float64}


def test_an_inference_checkpoint_builds_only_the_towers_its_inputs_need(ckpt, media_files):
    model = load_checkpoint(ckpt)
    emb = Embedder(model)
    emb.encode([OmniInput(text="only words")])
    assert {k: t.built for k, t in model.towers.items()} == {"vision": False, "audio": False}
    image = [OmniInput(image=media_files["img0"])]
    lazy_vec = emb.encode(image)
    assert {k: t.built for k, t in model.towers.items()} == {"vision": True, "audio": False}
    eager = Embedder(load_checkpoint(ckpt, merge_lora=False))  # towers built at load (training path)
    assert not isinstance(eager.model.towers["vision"], LazyTower)
    np.testing.assert_allclose(lazy_vec, eager.encode(image), atol=1e-5)
