"""Media decoding (needs the ``media`` extra: Pillow, soundfile, soxr, PyAV)."""

from omniret.media.audio import load_audio
from omniret.media.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
    WrongModalityError,
)
from omniret.media.image import load_image, to_pixels
from omniret.media.source import content_hash, read_bytes, sniff
from omniret.media.video import VideoClip, load_video

__all__ = [
    "CorruptMediaError",
    "EmptyMediaError",
    "MediaError",
    "MediaTooLargeError",
    "UnreadableMediaError",
    "UnsupportedMediaError",
    "VideoClip",
    "WrongModalityError",
    "content_hash",
    "load_audio",
    "load_image",
    "load_video",
    "read_bytes",
    "sniff",
    "to_pixels",
]
