"""omniret.towers.base: the tower contract (frozen, declared width), its registry, ids and recipes."""

from __future__ import annotations

import json

import pytest
import torch

from omniret.config import TowerConfig
from omniret.model import TOWERS, build_tower
from omniret.towers.base import frames_to_mask, tower_id
from tests.conftest import tiny_config


def test_towers_are_frozen_and_stay_in_eval():
    vision = build_tower(tiny_config().towers["vision"])
    vision.train()
    assert not vision.training and not any(p.requires_grad for p in vision.parameters())


def test_builtin_tower_kinds_are_registered():
    assert {"stand-in", "hf-vision", "hf-whisper-encoder", "efficientnet-lite0", "whisper-tiny-en"} <= set(
        TOWERS.names()
    )


def test_frames_to_mask_marks_ceil_of_frames_over_stride_tokens():
    """9 frames at stride 2 need ceil(9/2) = 5 tokens; 0 frames still keep one; none exceed the width."""
    mask = frames_to_mask(torch.tensor([9, 4, 0, 40]), 6, 2, 4, "cpu")
    assert mask.sum(1).tolist() == [5, 2, 1, 6]
    assert mask[0].tolist() == [True] * 5 + [False]  # the real tokens come first
    assert frames_to_mask(None, 6, 2, 4, "cpu") is None


def test_a_tower_narrower_or_wider_than_its_config_is_refused():
    cfg = TowerConfig(kind="efficientnet-lite0", modality="vision", dim=512, grid=(1, 1), image_size=32)
    with pytest.raises(ValueError, match=r"towers\.vision: built tower has width 1280, config says dim=512"):
        build_tower(cfg)


def test_tower_id_names_kind_path_and_reading_and_is_empty_for_random_weights(tmp_path):
    cfg = TowerConfig(kind="hf-vision", modality="vision", dim=24, path=str(tmp_path))
    ident = tower_id(cfg)
    assert ident.startswith(f"hf-vision:{tmp_path}:")
    assert tower_id(TowerConfig(kind="hf-vision", modality="vision", dim=24, path=str(tmp_path),
                                feature_layer=-2)) != ident  # fmt: skip
    assert tower_id(TowerConfig(kind="hf-vision", modality="vision", dim=24)) == ""
    assert build_tower(tiny_config().towers["vision"]).tower_id == ""  # random: never cached


def test_an_hf_vision_recipe_follows_its_preprocessor_config(hf_dirs, tmp_path):
    """SigLIP squashes (no centre crop); a CLIP-style config with do_center_crop crops the shorter side."""
    from omniret.towers.base import _hf_image_recipe

    siglip = build_tower(TowerConfig(kind="hf-vision", modality="vision", dim=24, image_size=32,
                                     path=str(hf_dirs / "siglip")))  # fmt: skip
    assert (siglip.recipe.size, siglip.recipe.resize, siglip.recipe.mean) == (32, "squash", (0.5, 0.5, 0.5))
    pre = {"do_center_crop": True, "image_mean": [0.48, 0.46, 0.41], "image_std": [0.27, 0.26, 0.28]}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(pre))
    clip = _hf_image_recipe(tmp_path, 224)
    assert (clip.resize, clip.mean, clip.std) == ("shorter-crop", (0.48, 0.46, 0.41), (0.27, 0.26, 0.28))
    (tmp_path / "preprocessor_config.json").unlink()
    assert _hf_image_recipe(tmp_path, 64).resize == "squash"  # no file: squash at the configured size


def test_load_weights_false_builds_the_architecture_without_reading_the_path(tmp_path):
    cfg = TowerConfig(kind="hf-vision", modality="vision", dim=24, image_size=32, grid=(4, 4),
                      path=str(tmp_path / "never-there"),
                      hf_config=tiny_config().towers["vision"].hf_config)  # fmt: skip
    tower = build_tower(cfg, load_weights=False)
    assert tower.tower_id == "" and tower.dim == 24
    assert tower(torch.randn(1, 3, 32, 32))[0].shape == (1, 16, 24)
