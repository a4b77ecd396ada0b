"""Tower text hints: where they go in the composer input, how they are computed and cached."""

from pathlib import Path

import numpy as np
import pytest
import torch

from omniret.config import HintsConfig, MediaConfig
from omniret.inputs.cache import FeatureCache
from omniret.inputs.hints import HintMaker, label_text
from omniret.inputs.sample import Media, Sample, render
from omniret.towers.packaged import imagenet_names
from tests.helpers.media import sine, write_audio

ASTERISK = Path("/usr/share/asterisk/sounds/en")


def test_render_puts_each_hint_after_its_own_placeholder():
    img = Media("image", torch.zeros(4, 8), is_features=True, hint="tabby, tiger cat")
    aud = Media("audio", torch.zeros(4, 8), is_features=True, hint="please hold")
    plain = Media("audio", torch.zeros(4, 8), is_features=True)
    assert (
        render(Sample(text="make it red", media=[img]), template="{content}")
        == "<image> (tabby, tiger cat) Make it red."
    )
    got = render(Sample(text="<audio> then <image> together", media=[aud, img]), template="{content}")
    assert got == "<audio> (please hold) then <image> (tabby, tiger cat) together."
    assert render(Sample(media=[plain, img]), template="{content}") == "<audio> <image> (tabby, tiger cat)"


def test_label_text_keeps_the_top_label_and_others_above_the_threshold():
    probs = torch.zeros(1000)
    probs[281], probs[282], probs[285], probs[0] = 0.02, 0.5, 0.3, 0.04  # tabby 0.02 < min_prob
    names = imagenet_names()
    assert label_text(probs, top_k=3, min_prob=0.05) == f"{names[282]}, {names[285]}"
    low = torch.full((1000,), 1e-3)
    low[7] = 0.01  # below the threshold, but the top label always stays
    assert label_text(low, top_k=3, min_prob=0.05) == names[7]


class _CountingSpeechTower(torch.nn.Module):
    """An audio tower stand-in that 'transcribes' by loudness and counts its calls."""

    tower_id = "counting-speech"

    def __init__(self):
        super().__init__()
        self.calls = 0

    def speech_text(self, wave, **kwargs):
        self.calls += 1
        return f"loud {len(wave)}" if np.abs(wave).max() > 0.3 else ""


def test_transcript_hints_are_cached_by_content_and_span(tmp_path):
    tower = _CountingSpeechTower()
    maker = HintMaker(towers={"audio": tower}, cfg=HintsConfig(transcripts=True), media=MediaConfig(),
                      cache=FeatureCache(tmp_path / "cache"))  # fmt: skip
    loud = write_audio(tmp_path / "loud.wav", sine(440, 1.0, 16000, amp=0.8), 16000)
    quiet = write_audio(tmp_path / "quiet.wav", sine(440, 1.0, 16000, amp=0.1), 16000)
    assert maker.audio([loud, quiet]) == ["loud 16000", None]  # "" (no speech) -> no hint
    assert maker.audio([loud, quiet]) == ["loud 16000", None] and tower.calls == 2  # both cached
    assert (
        maker.audio([loud], span=(0.0, 0.5)) == ["loud 8000"] and tower.calls == 3
    )  # a span is its own entry
    off = HintMaker(towers={"audio": tower}, cfg=HintsConfig(), media=MediaConfig(), cache=None)
    assert off.audio([loud]) == [None] and tower.calls == 3


def test_hints_change_the_recipe_only_when_enabled(hf_dirs):
    from omniret.checkpoint import recipes
    from omniret.model import OmniRet
    from tests.conftest import local_config_dict

    base = local_config_dict(hf_dirs)
    plain = recipes(OmniRet.build(from_dict_model(base)))
    hinted = recipes(OmniRet.build(from_dict_model({**base, "hints": {"image_labels": 3}})))
    assert "hints" not in plain["media"] and hinted["media"]["hints"]["image_labels"] == 3
    assert plain["hash"] != hinted["hash"]


def from_dict_model(data):
    from omniret.config import ModelConfig, from_dict

    return from_dict(ModelConfig, data)


def test_efficientnet_labels_from_tokens_equal_the_classifier_on_pixels():
    from omniret.config import load_config
    from omniret.towers import build_tower

    cfg = load_config("omniret-small").towers["vision"]
    try:
        tower = build_tower(cfg)
    except Exception as err:  # pragma: no cover - the asset package is part of the install
        pytest.fail(f"EfficientNet-Lite0 asset missing: {err}")
    x = torch.rand(2, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        tokens, _ = tower(x)  # (2, 49, 1280)
        assert torch.allclose(tower.classify_tokens(tokens), tower.classify(x), atol=1e-5)
    maker = HintMaker(
        towers={"vision": tower}, cfg=HintsConfig(image_labels=2), media=MediaConfig(), cache=None
    )
    assert maker.image(tokens[0]) == label_text(tower.classify(x[:1])[0], top_k=2, min_prob=0.05)
    frames = tokens.reshape(2, 7, 7, 1280)  # a two-frame video grid: labels of the mean probabilities
    mean = tower.classify_tokens(tokens).mean(0)
    assert maker.video(frames) == label_text(mean, top_k=2, min_prob=0.05)


@pytest.mark.skipif(not ASTERISK.is_dir(), reason="Debian asterisk-core-sounds-en-wav is not installed")
def test_whisper_speech_hint_is_words_for_speech_and_empty_for_a_tone(tmp_path):
    from omniret.config import load_config
    from omniret.inputs.media import load_audio
    from omniret.towers import build_tower

    tower = build_tower(load_config("omniret-small").towers["audio"])
    words = tower.speech_text(load_audio(ASTERISK / "agent-pass.wav"))
    assert "password" in words.lower()
    tone = sine(440, 2.0, 16000, amp=0.5).astype(np.float32)
    assert tower.speech_text(tone) == ""
    assert len(tower.speech_text(load_audio(ASTERISK / "agent-pass.wav"), max_words=3).split()) == 3


def test_words_only_replaces_each_medium_by_its_words_and_needs_words_for_every_medium():
    from omniret.inputs.sample import words_only

    both = Sample(text="<image> and <audio>", media=[Media("image", torch.zeros(3), hint="tabby"),
                                                     Media("audio", torch.zeros(3), hint="hello there")],
                  instruction="Find it.")  # fmt: skip
    twin = words_only(both)
    assert twin.media == [] and twin.text == "tabby and hello there" and twin.instruction == "Find it."
    front = words_only(Sample(text="but red", media=[Media("image", torch.zeros(3), hint="ox")]))
    assert front.text == "ox but red" and front.instruction is None
    silent = Sample(
        media=[Media("image", torch.zeros(3), hint="ox"), Media("audio", torch.zeros(3), hint="")]
    )
    assert words_only(silent) is None and words_only(Sample(text="only text")) is None


def test_words_weight_mixes_the_words_only_embedding_into_hinted_items_only():
    from omniret.config import ModelConfig, from_dict
    from omniret.inputs.sample import words_only
    from omniret.model import OmniRet
    from tests.conftest import tiny_config_dict

    with pytest.raises(ValueError, match="words_weight"):
        from_dict(ModelConfig, {**tiny_config_dict(), "hints": {"words_weight": 1.5}})
    model = OmniRet.build(from_dict(ModelConfig, tiny_config_dict()), load_weights=False).eval()
    image = torch.rand(3, 32, 32)
    hinted = Sample(
        text="in red", media=[Media("image", image, hint="goldfish, tench")], instruction="Find it."
    )
    plain = Sample(text="in red", media=[Media("image", image)], instruction="Find it.")
    text = Sample(text="a red fish")
    off = model.embed([hinted, plain, text])
    alone = model.embed([words_only(hinted)])[0]
    model.config.hints.words_weight = 0.25
    on = model.embed([hinted, plain, text])
    want = torch.nn.functional.normalize(0.75 * off[0] + 0.25 * alone, dim=-1)
    torch.testing.assert_close(on[0], want, atol=1e-5, rtol=1e-4)
    assert (on[0] - off[0]).abs().max() > 1e-3  # the mix moved the hinted item
    torch.testing.assert_close(on[1:], off[1:], atol=1e-5, rtol=1e-4)  # no words, no change
