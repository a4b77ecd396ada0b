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
    """An mp4 (h264 + aac) showing each colour for ``seconds_each`` seconds, with a sine track."""
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width = v.height = size
        v.pix_fmt = "yuv420p"
        v.options = {"g": str(fps)}  # one keyframe per second
        a = out.add_stream("aac", rate=16000, layout="mono") if tone else None
        for colour in colours:
            for _ in range(int(fps * seconds_each)):
                img = np.zeros((size, size, 3), np.uint8)
                img[:] = colour
                for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
        if a is not None:
            wave = sine(tone, len(colours) * seconds_each, 16000)
            for i in range(0, len(wave), 1024):
                frame = av.AudioFrame.from_ndarray(wave[i : i + 1024][None], format="flt", layout="mono")
                frame.sample_rate = 16000
                for packet in a.encode(frame):
                    out.mux(packet)
            for packet in a.encode(None):
                out.mux(packet)
    return path


def png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
