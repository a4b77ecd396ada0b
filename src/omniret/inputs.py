"""The user-facing input type: any mix of text, image, audio and video, plus an optional instruction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class OmniInput:
    """One query or candidate.

    Media fields take a path, bytes, a PIL image (image), a numpy array (image (H, W, C); audio
    (n,) at 16 kHz or an ``(array, sample_rate)`` tuple), and video a path or bytes. ``span``
    restricts audio and video to [t0, t1] seconds. Queries carry an ``instruction``; candidates
    leave it None (OmniRet, Eq. 1).
    """

    text: str | None = None
    image: Any = None
    audio: Any = None
    video: Any = None
    instruction: str | None = None
    span: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.modalities():
            raise ValueError("OmniInput needs at least one of text, image, audio or video")
        if self.span is not None and not (0 <= self.span[0] < self.span[1]):
            raise ValueError(f"span must be (t0, t1) with 0 <= t0 < t1, got {self.span}")

    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in ("text", "image", "audio", "video") if getattr(self, m) is not None)

    def signature(self) -> str:
        """Modality signature used to batch similar inputs, e.g. 'image+text'."""
        return "+".join(self.modalities())
