"""Decoded PyAV audio frames -> mono float32 samples at one rate (libswresample does the work).

Kept apart from ``audio.py`` because both whole-file and windowed decoding share it, and because a
damaged or unusual stream can change its sample format, channel layout or rate between frames (a
bit-flipped MP3 frame header does; so do some broadcast recordings). One ``av.AudioResampler`` only
accepts frames like its first, so ``MonoResampler`` flushes it and starts a new one at every change.
"""

from __future__ import annotations

import math

import numpy as np


class MonoResampler:
    """Feed frames with ``push``; ``flush`` at the end. Both return float32 chunks at ``rate``."""

    def __init__(self, *, rate: int) -> None:
        self.rate, self._resampler, self._setup = rate, None, None

    def push(self, frame) -> list[np.ndarray]:
        import av

        setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        out = []
        if setup != self._setup:
            out = self.flush()
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
            self._setup = setup
        return out + [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]

    def flush(self) -> list[np.ndarray]:
        if self._resampler is None:
            return []
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)]
        self._resampler, self._setup = None, None
        return out


def align(frame, t: float, rate: int):
    """(frame, its start) with the leading samples dropped that put its first sample off the grid of
    input samples landing exactly on an output sample (every in/gcd(in, out) samples): the resampler then
    produces the very samples of a decode from the file's start. (None, t) when the whole frame is dropped."""
    import av

    in_rate = frame.sample_rate or rate
    step = in_rate // math.gcd(in_rate, rate)
    first = round(t * in_rate)
    drop = -first % step
    if drop == 0:
        return frame, t
    if drop >= frame.samples:
        return None, t
    arr = frame.to_ndarray()
    arr = arr[:, drop:] if frame.format.is_planar else arr[:, drop * len(frame.layout.channels) :]
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=frame.format.name, layout=frame.layout)
    out.sample_rate = in_rate
    return out, (first + drop) / in_rate
