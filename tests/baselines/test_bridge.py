from pathlib import Path

import numpy as np
import pytest

from omniret import OmniInput, load_model
from tests.helpers.builders import ASTERISK, skimage_photo


@pytest.fixture(scope="module")
def bridge():
    return load_model("bridge-caption", cache=False)


def test_image_captions_are_probability_weighted_imagenet_classes(bridge):
    caps = bridge.captions(OmniInput(image=skimage_photo("chelsea.png")))
    assert len(caps) == 5 and sum(w for _, w in caps) == pytest.approx(1.0)
    assert "cat" in caps[0][0] or "tabby" in caps[0][0]
    composed = bridge.captions(OmniInput(image=skimage_photo("chelsea.png"), text="wearing a hat"))
    assert all(c.endswith("wearing a hat") for c, _ in composed)


def test_cross_modal_rankings_on_real_media(bridge):
    images = bridge.encode(
        [OmniInput(image=skimage_photo("chelsea.png")), OmniInput(image=skimage_photo("coffee.png"))]
    )
    texts = bridge.encode([OmniInput(text="a photo of a cat"), OmniInput(text="a cup of coffee")])
    assert (texts @ images.T).argmax(1).tolist() == [0, 1]
    speech = bridge.encode([OmniInput(audio=Path(ASTERISK) / "all-circuits-busy-now.wav")])
    prompts = bridge.encode(
        [OmniInput(text="All circuits are busy now."), OmniInput(text="Please hold the line.")]
    )
    assert int(np.argmax(prompts @ speech[0])) == 0


def test_transcripts_and_class_probabilities_are_cached(tmp_path, monkeypatch):
    from omniret.inputs.cache import FeatureCache

    cached = load_model("bridge-caption", cache=tmp_path)
    assert isinstance(cached.cache, FeatureCache)
    inputs = [
        OmniInput(audio=Path(ASTERISK) / "vm-goodbye.wav"),
        OmniInput(image=skimage_photo("coffee.png")),
    ]
    first = cached.encode(inputs)
    monkeypatch.setattr(cached.whisper, "transcribe", lambda *a, **k: pytest.fail("transcribed twice"))
    monkeypatch.setattr(cached.vision, "classify", lambda *a, **k: pytest.fail("classified twice"))
    np.testing.assert_array_equal(cached.encode(inputs), first)
