"""The two modality vocabularies, as enums: what an input holds and which tower family reads it.

An input field is one of ``Modality`` (text, image, audio, video); a frozen tower is one of ``Family``
(vision, audio), and ``family_of`` maps the first onto the second (images and video frames share the
vision tower). Both are ``StrEnum``: they compare equal to the strings stored in configs, index rows
and checkpoints, so files written before the enums existed read the same.
"""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


class Family(StrEnum):
    VISION = "vision"
    AUDIO = "audio"


MEDIA = (Modality.IMAGE, Modality.AUDIO, Modality.VIDEO)  # the fields a tower reads
MODALITY_NAMES = tuple(m.value for m in Modality)  # ("text", "image", "audio", "video"), as plain strings
MEDIA_NAMES = tuple(m.value for m in MEDIA)  # ("image", "audio", "video")
_FAMILY = {Modality.IMAGE: Family.VISION, Modality.VIDEO: Family.VISION, Modality.AUDIO: Family.AUDIO}


def family_of(modality: str) -> Family:
    """The tower family that reads a medium; a KeyError names text or an unknown modality."""
    return _FAMILY[Modality(modality)]
