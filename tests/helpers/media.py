"""Generated media with known content: sine tones, solid-colour frames, images in many modes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def sine(freq: float, seconds: float, rate: int, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def dominant_frequency(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()])


def write_audio(path: Path, wave: np.ndarray, rate: int) -> Path:
    """wav/flac/ogg via soundfile, anything else (mp3, m4a) via PyAV."""
    suffix = path.suffix.lower()
    if suffix in (".wav", ".flac", ".ogg"):
        import soundfile as sf

        sf.write(path, wave, rate)
        return path
    import av

    codec = {".mp3": "mp3", ".m4a": "aac"}[suffix]
    mono = wave if wave.ndim == 1 else wave.mean(1)
    with av.open(str(path), "w", format={".mp3": "mp3", ".m4a": "ipod"}[suffix]) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame_size = 1152
        for i in range(0, len(mono), frame_size):
            chunk = mono[i : i + frame_size].astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_video(path: Path, colours: list[tuple[int, int, int]], *, fps: int = 10, seconds_each: float = 1.0,
                tone: float | None = 440.0, size: int = 64) -> Path:  # fmt: skip
    """An mp4 (h264 + aac, one keyframe per second) showing each colour for ``seconds_each`` s over a sine."""
    from PIL import Image

    from omniret.datasets.render import make_video

    frames = [Image.new("RGB", (size, size), c) for c in colours]
    wave = sine(tone, len(colours) * seconds_each, 16000) if tone else None
    return make_video(frames, wave, path, seconds_each=seconds_each, fps=fps, size=size)


def png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
