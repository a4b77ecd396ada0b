"""omniret.inputs.recipes: preprocessing recipes as data, and the hash that keys caches and indexes."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from omniret.inputs.recipes import AudioRecipe, ImageRecipe, recipe_dict, recipe_hash


def test_recipe_dict_names_the_recipe_type_beside_its_fields():
    d = recipe_dict(AudioRecipe(n_mels=8))
    assert d == {"type": "AudioRecipe", "sample_rate": 16000, "n_mels": 8, "n_fft": 400, "hop_length": 160,
                 "window_seconds": 30.0}  # fmt: skip


def test_hash_is_16_hex_of_the_sha256_of_the_sorted_compact_json():
    """The format is what old caches and indexes were keyed with: it must never drift."""
    blob = b'[{"a":1,"b":[2,3]}]'
    assert recipe_hash({"b": [2, 3], "a": 1}) == hashlib.sha256(blob).hexdigest()[:16]


def test_every_field_and_the_recipe_type_change_the_hash():
    base = ImageRecipe()
    seen = {recipe_hash(base)}
    for f, value in [("size", 256), ("resize", "squash"), ("crop_ratio", 1.0), ("mean", (0.4, 0.5, 0.5)),
                     ("std", (0.5, 0.5, 0.4)), ("background", "black")]:  # fmt: skip
        seen.add(recipe_hash(dataclasses.replace(base, **{f: value})))
    assert len(seen) == 7
    assert recipe_hash(ImageRecipe()) == recipe_hash(ImageRecipe())  # equal recipes, equal hashes
    assert recipe_hash(AudioRecipe(), {}) != recipe_hash(AudioRecipe())  # extra settings are part of it
    assert recipe_hash(AudioRecipe(), {"span": None}) != recipe_hash(AudioRecipe(), {"span": (0, 1)})


def test_recipes_are_frozen():
    """A recipe shared by a tower and the cache keys it made must not change under them."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        ImageRecipe().size = 512
