"""Media decoding (needs the ``media`` extra: Pillow, soundfile, soxr, PyAV)."""

from omniret.inputs.media.audio import load_audio
from omniret.inputs.media.errors import (
    CorruptMediaError,
    EmptyMediaError,
    EncryptedMediaError,
    MediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
    WrongModalityError,
)
from omniret.inputs.media.image import load_image, to_pixels
from omniret.inputs.media.source import content_hash, read_bytes, sniff
from omniret.inputs.media.video import VideoClip, load_video

__all__ = [
    "CorruptMediaError",
    "EmptyMediaError",
    "EncryptedMediaError",
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
