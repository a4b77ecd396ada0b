"""omniret.inputs.media.mel: Whisper's log-mel features in torch, for any length (no 30 s padding)."""

from __future__ import annotations

import numpy as np
import pytest

from omniret.inputs.media.mel import log_mel
from omniret.inputs.recipes import AudioRecipe
from tests.helpers.media import sine


def test_one_frame_per_hop_and_one_row_per_mel_bin():
    """Whisper's STFT is centred (n // hop + 1 frames) and drops the last frame: 100 frames per second."""
    recipe = AudioRecipe(n_mels=8)
    assert tuple(log_mel(sine(440, 1.0, 16000), recipe).shape) == (8, 100)
    # A wave shorter than one FFT window (168 samples) is padded to 400 samples: 400 // 160 = 2 frames.
    assert tuple(log_mel(sine(440, 0.0105, 16000), recipe).shape) == (8, 2)


def test_silence_is_the_floor_value():
    """All-zero power is clamped to 1e-10 before log10: (-10 + 4) / 4 = -1.5 everywhere."""
    out = log_mel(np.zeros(3200, np.float32), AudioRecipe(n_mels=8))
    assert out.shape == (8, 20) and float(out.min()) == float(out.max()) == pytest.approx(-1.5)


def test_dynamic_range_is_clamped_to_8_decades():
    """Whisper keeps log10 values within 8 of the maximum: after the / 4 scaling, a spread of at most 2."""
    wave = sine(1000, 0.5, 16000, amp=0.9)
    wave[4000:] *= 1e-6  # a loud start, then almost silence
    out = log_mel(wave, AudioRecipe(n_mels=16))
    assert float(out.max() - out.min()) == pytest.approx(2.0, abs=1e-5)


def test_a_higher_tone_lights_a_higher_mel_bin():
    recipe = AudioRecipe(n_mels=40)
    low = log_mel(sine(300, 0.5, 16000), recipe).mean(1).argmax()
    high = log_mel(sine(3000, 0.5, 16000), recipe).mean(1).argmax()
    assert int(low) < int(high)
