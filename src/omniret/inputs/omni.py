"""The user-facing input type: any mix of text, image, audio and video, plus an optional instruction."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from omniret.errors import InputError
from omniret.inputs.modality import MODALITY_NAMES

MAX_SAMPLE_RATE = 1_000_000  # Hz; anything above is a mistake (e.g. samples and rate swapped)
_BYTES = (bytes, bytearray, memoryview)
_WRONG = (bool, int, float, complex, list, dict, set, frozenset)  # never a medium, whatever else may be


class InputTypeError(InputError, TypeError):
    """A field of an input has the wrong type (also a TypeError, as before)."""


@dataclass
class OmniInput:
    """One query or candidate.

    Media fields take a path, bytes, a PIL image (image), a numpy array (image (H, W, C); audio
    (n,) at 16 kHz or an ``(array, sample_rate)`` tuple), and video a path or bytes. ``span``
    restricts audio and video to [t0, t1] seconds. Queries carry an ``instruction``; candidates
    leave it None (OmniRet, Eq. 1).

    Construction checks what can be checked without decoding (types, array shapes and dtypes, sample
    rates, spans) and raises ``InputError`` naming the field and what was expected; decoding problems
    surface later as ``MediaError`` naming the file.
    """

    text: str | None = None
    image: Any = None
    audio: Any = None
    video: Any = None
    instruction: str | None = None
    span: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.modalities():
            raise InputError("OmniInput needs at least one of text, image, audio or video")
        for name in ("text", "instruction"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputTypeError(f"OmniInput.{name} must be a str, got {type(value).__name__}")
        if self.modalities() == ("text",) and not self.text.strip():
            raise InputError("OmniInput.text is empty and there is no media to embed")
        if self.image is not None:
            _check_image(self.image)
        if self.audio is not None:
            _check_audio(self.audio)
        if self.video is not None:
            _check_path_like("video", self.video, "a path or bytes")
        if self.span is not None:
            self.span = _check_span(self.span)

    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITY_NAMES if getattr(self, m) is not None)

    def signature(self) -> str:
        """Modality signature used to batch similar inputs, e.g. 'image+text'."""
        return "+".join(self.modalities())

    def describe(self) -> str:
        """A short label for messages: each present field with a path, a shape or the text's start."""
        parts = []
        for name in MODALITY_NAMES:
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={_brief(value)}")
        return ", ".join(parts)


def _brief(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, np.ndarray):
        return f"array{tuple(value.shape)} {value.dtype}"
    if isinstance(value, tuple) and value and isinstance(value[0], np.ndarray):
        return f"(array{tuple(value[0].shape)}, {value[1]!r} Hz)"
    if isinstance(value, _BYTES):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"


def _check_path_like(field: str, value: Any, expected: str) -> None:
    if isinstance(value, np.ndarray) or isinstance(value, _WRONG) or isinstance(value, tuple):
        raise InputTypeError(f"OmniInput.{field} must be {expected}, got {_brief(value)}")
    if isinstance(value, (str, os.PathLike)) and not os.fspath(value):
        raise InputError(f"OmniInput.{field} is an empty path")


def _check_image(value: Any) -> None:
    expected = "a path, bytes, a PIL image or an (H, W[, C]) array"
    if isinstance(value, np.ndarray):
        shape = value.shape
        if value.ndim not in (2, 3) or (value.ndim == 3 and shape[2] not in (1, 3, 4)):
            raise InputError(f"OmniInput.image: expected an (H, W) or (H, W, 1|3|4) array, got shape {shape}")
        if 0 in shape[:2]:
            raise InputError(f"OmniInput.image: the array has no pixels (shape {shape})")
        if value.dtype.kind not in "biuf":
            raise InputTypeError(f"OmniInput.image: expected a numeric array, got dtype {value.dtype}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise InputError("OmniInput.image: the array holds NaN or infinite values")
        return
    if hasattr(value, "size") and hasattr(value, "mode") and not isinstance(value, _BYTES):  # a PIL image
        width, height = value.size
        if width < 1 or height < 1:
            raise InputError(f"OmniInput.image: the image is {width}x{height} pixels")
        return
    _check_path_like("image", value, expected)


def _check_audio(value: Any) -> None:
    expected = "a path, bytes, a float array at 16 kHz or an (array, sample_rate) tuple"
    if isinstance(value, tuple):
        if len(value) != 2 or not isinstance(value[0], np.ndarray):
            raise InputTypeError(f"OmniInput.audio tuple must be (array, sample_rate), got {_brief(value)}")
        _check_wave(value[0])
        _check_rate(value[1])
        return
    if isinstance(value, np.ndarray):
        _check_wave(value)
        return
    _check_path_like("audio", value, expected)


def _check_wave(wave: np.ndarray) -> None:
    if wave.ndim not in (1, 2):
        raise InputError(f"OmniInput.audio: expected a (n,) or (n, channels) array, got shape {wave.shape}")
    if wave.size == 0:
        raise InputError(f"OmniInput.audio: the array has no samples (shape {wave.shape})")
    if wave.dtype.kind not in "iuf":
        raise InputTypeError(f"OmniInput.audio: expected a numeric array, got dtype {wave.dtype}")


def _check_rate(rate: Any) -> None:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"OmniInput.audio sample rate must be a number of Hz, got {rate!r}")
    if not math.isfinite(rate) or rate <= 0 or rate != int(rate) or rate > MAX_SAMPLE_RATE:
        raise InputError(
            f"OmniInput.audio sample rate must be a whole number of Hz in 1..{MAX_SAMPLE_RATE}, got {rate!r}"
        )


def _check_span(span: Any) -> tuple[float, float]:
    """A (t0, t1) pair of finite seconds, 0 <= t0 < t1; a list is returned as a tuple (hashable)."""
    numbers = (int, float, np.integer, np.floating)
    if (
        not isinstance(span, (tuple, list))
        or len(span) != 2
        or not all(isinstance(t, numbers) and not isinstance(t, (bool, np.bool_)) for t in span)
    ):
        raise InputTypeError(f"span must be a pair of numbers (t0, t1) in seconds, got {span!r}")
    t0, t1 = span
    if not (math.isfinite(t0) and math.isfinite(t1) and 0 <= t0 < t1):
        raise InputError(f"span must be (t0, t1) with 0 <= t0 < t1, both finite, got {tuple(span)}")
    return tuple(span)
