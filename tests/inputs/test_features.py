"""omniret.inputs.features: sources -> content keys -> tower tokens, each source decoded and run once.

Hashing the windows of a long recording is tested in tests/inputs/media/test_long_media.py."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from omniret.config import MediaConfig, TowerConfig
from omniret.inputs.cache import FeatureCache
from omniret.inputs.features import FeatureExtractor, source_id
from omniret.inputs.media import MediaTooLargeError
from omniret.inputs.media.audio import AudioSpan
from omniret.towers import build_tower
from tests.helpers.media import png_bytes, sine, write_audio


def test_source_id_hashes_content_shape_dtype_and_rate():
    a = np.arange(6, dtype=np.float32)
    assert source_id(a)[0] == source_id(a.copy())[0]  # content, not identity
    assert source_id(a)[0] != source_id(a.reshape(2, 3))[0]  # same bytes, other shape
    assert source_id(a)[0] != source_id(a.view(np.int32))[0]  # same bytes, other dtype
    assert source_id((a, 16000))[0] != source_id((a, 8000))[0] != source_id(a)[0]
    assert source_id(a)[1:] == (a, "<array>")
    img = Image.new("RGB", (2, 2), (1, 2, 3))
    assert source_id(img)[0] == source_id(Image.new("RGB", (2, 2), (1, 2, 3)))[0]
    assert source_id(img)[0] != source_id(img.convert("RGBA"))[0]


def test_a_file_and_its_bytes_share_the_content_hash_and_a_file_stays_on_disk(tmp_path):
    data = png_bytes(Image.new("RGB", (4, 4), (9, 9, 9)))
    (tmp_path / "a.png").write_bytes(data)
    h_file, payload, name = source_id(tmp_path / "a.png")
    h_bytes, raw, label = source_id(data)
    assert h_file == h_bytes == hashlib.sha256(data).hexdigest()
    assert payload == str(tmp_path / "a.png") and name == str(tmp_path / "a.png")
    assert raw == data and label == f"<{len(data)} bytes>"


def test_a_span_is_keyed_apart_from_its_file_and_from_other_spans(tmp_path):
    path = write_audio(tmp_path / "t.wav", sine(440, 1.0, 8000), 8000)
    whole, _, _ = source_id(path)
    first, payload, name = source_id(AudioSpan(path, 0.0, 0.5))
    assert len({whole, first, source_id(AudioSpan(path, 0.5, 1.0))[0]}) == 3
    assert first == source_id(AudioSpan(str(path), 0.0, 0.5))[0]
    assert payload == AudioSpan(str(path), 0.0, 0.5) and name == str(path)


class _Counting(torch.nn.Module):
    """Wraps a tower and counts the items it is run on."""

    def __init__(self, tower) -> None:
        super().__init__()
        self.tower, self.items = tower, 0
        self.recipe, self.dim, self.tower_id = tower.recipe, tower.dim, "test:stand-in"

    def forward(self, x, lengths=None):
        self.items += x.shape[0]
        return self.tower(x, lengths)


@pytest.fixture
def vision():
    cfg = TowerConfig(kind="stand-in", modality="vision", dim=8, grid=(2, 2), image_size=16)
    return _Counting(build_tower(cfg))


def test_a_cache_hit_skips_the_tower_and_gives_the_tokens_of_a_miss(tmp_path, vision):
    images = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    fx = FeatureExtractor({"vision": vision}, MediaConfig(), FeatureCache(tmp_path))
    first = fx.images([*images, images[0].copy()])  # the repeat is one key: run once
    assert vision.items == 2 and [tuple(t.shape) for t in first] == [(4, 8)] * 3
    torch.testing.assert_close(first[0], first[2], rtol=0, atol=0)
    again = fx.images(images)
    assert vision.items == 2  # both from the cache
    for a, b in zip(first, again, strict=False):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # float16 on both paths: identical
        assert torch.equal(a, a.half().float())


def test_random_towers_are_never_cached(tmp_path, vision):
    vision.tower_id = ""  # random weights: nothing identifies them
    fx = FeatureExtractor({"vision": vision}, MediaConfig(), FeatureCache(tmp_path))
    img = Image.new("RGB", (16, 16))
    fx.images([img])
    fx.images([img])
    assert vision.items == 2 and not list(tmp_path.rglob("*.safetensors"))


def test_a_span_over_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    from omniret.inputs import features

    monkeypatch.setattr(features, "load_audio", lambda *a, **k: pytest.fail("decoded a refused span"))
    path = write_audio(tmp_path / "talk.wav", sine(440, 0.1, 8000), 8000)
    cfg = TowerConfig(kind="stand-in", modality="audio", dim=8, n_mels=8)
    fx = FeatureExtractor({"audio": build_tower(cfg)}, MediaConfig(max_audio_seconds=60), None)
    refused = r"^talk\.wav: span 0-61 s is 61 s long, over the 60 s limit"
    with pytest.raises(MediaTooLargeError, match=refused):
        fx.audios([path], span=(0.0, 61.0), names=["talk.wav"])


def test_audio_tokens_follow_the_tower_rate_on_the_clip_own_length():
    """1 s at 16 kHz is 100 mel frames; a stand-in at 25 tokens/s strides 4 frames: 25 tokens."""
    cfg = TowerConfig(kind="stand-in", modality="audio", dim=8, n_mels=8, tokens_per_second=25)
    fx = FeatureExtractor({"audio": build_tower(cfg)}, MediaConfig(), None)
    (tokens,) = fx.audios([(sine(440, 1.0, 16000), 16000)])
    assert tuple(tokens.shape) == (25, 8)
