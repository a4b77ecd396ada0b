"""Spoken test clips with known words, synthesised by espeak-ng (no recordings to ship or download)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

RATE = 16000


def spoken_wav(path: Path, text: str, *, lead_silence: float = 0.0) -> Path:
    """A 16 kHz mono WAV at ``path`` saying ``text`` after ``lead_silence`` seconds of digital silence.

    Skips the calling test when espeak-ng is not installed (``apt-get install espeak-ng``).
    """
    import soundfile as sf

    from omniret.inputs.media.audio import resample

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed: it synthesises the spoken test clips")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run([espeak, "-w", str(raw), text], check=True, capture_output=True, timeout=60)
        wave, rate = sf.read(raw, dtype="float32", always_2d=True)
    speech = resample(wave.mean(axis=1), rate, RATE)
    silence = np.zeros(round(lead_silence * RATE), np.float32)
    sf.write(path, np.concatenate([silence, speech]), RATE, subtype="PCM_16")
    return Path(path)
