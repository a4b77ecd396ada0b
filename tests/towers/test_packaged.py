"""The packaged pretrained towers on real data shipped by packages (scikit-image photos, Asterisk speech)."""

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from omniret.assets import AssetMissingError, asset_path, resolve
from omniret.config import TowerConfig
from omniret.inputs.media import load_audio, load_image, to_pixels
from omniret.inputs.media.mel import log_mel
from omniret.inputs.recipes import AudioRecipe
from omniret.model import build_tower
from omniret.towers.packaged import imagenet_names
from tests.helpers.builders import ASTERISK, skimage_photo

TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")


@pytest.fixture(scope="module")
def effnet():
    return build_tower(TowerConfig(kind="efficientnet-lite0", modality="vision", dim=1280, grid=(7, 7),
                                   path="asset:efficientnet-lite0"))  # fmt: skip


@pytest.fixture(scope="module")
def whisper():
    return build_tower(
        TowerConfig(kind="whisper-tiny-en", modality="audio", dim=384, path="asset:whisper-tiny-en")
    )


def test_efficientnet_ranks_true_class_in_top5_on_real_photos(effnet):
    names = imagenet_names()
    assert len(names) == 1000 and names[281] == "tabby" and names[967] == "espresso"
    cases = {"chelsea.png": {281, 282, 285}, "coffee.png": {967, 968, 504}}  # cats; espresso/cup/coffee mug
    for file, truth in cases.items():
        x = to_pixels(load_image(skimage_photo(file)), effnet.recipe)[None]
        with torch.no_grad():
            top5 = set(effnet.classify(x)[0].topk(5).indices.tolist())
        assert top5 & truth, (file, [names[i] for i in top5])


def test_efficientnet_tokens_and_configurable_resolution(effnet):
    img = load_image(skimage_photo("chelsea.png"))
    tokens, mask = effnet(to_pixels(img, effnet.recipe)[None])
    assert tokens.shape == (1, 49, 1280) and mask is None and effnet.grid == (7, 7)
    big = build_tower(TowerConfig(kind="efficientnet-lite0", modality="vision", dim=1280, grid=(8, 8),
                                  image_size=256, path="asset:efficientnet-lite0"))  # fmt: skip
    assert big(to_pixels(img, big.recipe)[None])[0].shape == (1, 64, 1280)


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9 ]", " ", text.lower()).split()


def _wer(ref: list[str], hyp: list[str]) -> float:
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return d[-1] / max(len(ref), 1)


def test_whisper_transcribes_real_speech(whisper):
    lines = gzip.open(TRANSCRIPTS, "rt").read().splitlines()
    refs = dict(line.split(": ", 1) for line in lines if ": " in line and not line.startswith(";"))
    clips = ["all-circuits-busy-now", "check-number-dial-again", "agent-loginok", "conf-onlyperson"]
    errors = [
        _wer(_words(refs[c]), _words(whisper.transcribe(load_audio(ASTERISK / f"{c}.wav")))) for c in clips
    ]
    assert np.mean(errors) <= 0.2, errors


def test_whisper_tokens_are_trimmed_to_real_length_and_windowed(whisper):
    wave = load_audio(ASTERISK / "all-circuits-busy-now.wav")  # about 1.8 s
    mel = log_mel(wave, whisper.recipe)
    tokens, mask = whisper(mel[None], torch.tensor([mel.shape[-1]]))
    assert tokens.shape[-1] == 384 and abs(tokens.shape[1] - len(wave) / 16000 * 50) <= 1
    long = np.tile(wave, 40)[: 65 * 16000]  # 65 s: three 30 s windows
    tokens, mask = whisper(log_mel(long, whisper.recipe)[None], torch.tensor([6500]))
    assert tokens.shape[1] == 3250 and mask.all()


def test_torch_log_mel_matches_faster_whisper():
    from faster_whisper.feature_extractor import FeatureExtractor

    wave = load_audio(ASTERISK / "all-circuits-busy-now.wav")
    ours = log_mel(wave, AudioRecipe()).numpy()
    ref = FeatureExtractor(feature_size=80)(wave, padding=0)
    n = min(ours.shape[1], ref.shape[1])
    assert abs(ours.shape[1] - ref.shape[1]) <= 1
    np.testing.assert_allclose(ours[:, :n], ref[:, :n], atol=2e-3)


def test_assets_resolve_and_missing_ones_are_named(tmp_path):
    assert (asset_path("minilm-l6") / "config.json").is_file()
    with pytest.raises(AssetMissingError, match="unknown asset 'clip'"):
        asset_path("clip")
    with pytest.raises(AssetMissingError, match=r"composer\.path: local path not found: .*nowhere"):
        resolve(str(tmp_path / "nowhere"), what="composer.path")


def test_whisper_speech_cues_are_timed_sorted_and_inside_the_clip(whisper, tmp_path):
    from tests.helpers.speech import spoken_wav

    text = "the quarterly budget meeting starts at noon. please bring the sales figures"
    wave = load_audio(spoken_wav(tmp_path / "s.wav", text, lead_silence=2.0))
    seconds = wave.size / 16000
    cues = whisper.speech_cues(wave)
    assert cues and [c[0] for c in cues] == sorted(c[0] for c in cues), cues
    assert all(0.0 <= start < end <= seconds for start, end, _ in cues), (seconds, cues)
    assert 1.0 <= cues[0][0] <= 2.5, cues  # word timing: speech begins at 2.0 s (segment tokens say 0.0)
    assert "budget" in " ".join(c[2] for c in cues).lower()
    assert whisper.speech_cues(np.zeros(5 * 16000, np.float32)) == []
    assert "budget" in whisper.speech_text(wave).lower()  # the shared filter keeps real speech


def test_whisper_confidence_rule_boundaries():
    from types import SimpleNamespace

    from omniret.towers.packaged import WhisperCT2Tower

    def seg(no_speech=0.1, logprob=-0.5, ratio=1.5):
        return SimpleNamespace(no_speech_prob=no_speech, avg_logprob=logprob, compression_ratio=ratio)

    assert WhisperCT2Tower.confident(seg()) and WhisperCT2Tower.confident(seg(0.6, -1.0, 2.4))
    assert not WhisperCT2Tower.confident(seg(no_speech=0.61))
    assert not WhisperCT2Tower.confident(seg(logprob=-1.01))
    assert not WhisperCT2Tower.confident(seg(ratio=2.41))
    assert WhisperCT2Tower.confident(seg(no_speech=0.7), no_speech_max=0.8)
    assert not WhisperCT2Tower.confident(seg(logprob=-0.5), min_avg_logprob=-0.4)
