"""What the model consumes: samples of text plus media, rendered into the instruction template.

Queries carry an instruction and candidates do not (docs/METHOD_NOTES.md §1, Eq. 1). Media appear in the
text as ``<image>``/``<audio>``/``<video>`` placeholders; a sample whose text has none gets one
placeholder per media item in front of its text, in the order of ``media``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from omniret.inputs.modality import MEDIA_NAMES

MEDIA_MODALITIES = MEDIA_NAMES
PLACEHOLDER = re.compile(r"<(image|audio|video)>")


@dataclass
class Media:
    """One media item, either raw tower input or cached tower tokens.

    Raw shapes: image (3, H, W) pixels; audio (n_mels, F) log-mel frames; video (T, 3, H, W).
    Feature shapes (``is_features=True``): image (N, d); audio (N, d); video (T, N, d) or (T, H, W, d).
    """

    modality: str
    data: torch.Tensor
    is_features: bool = False
    hint: str | None = None  # the tower's own words for this item (HintsConfig), read after its tokens

    def __post_init__(self) -> None:
        if self.modality not in MEDIA_MODALITIES:
            raise ValueError(f"unknown media modality {self.modality!r}; expected one of {MEDIA_MODALITIES}")


@dataclass
class Sample:
    """A query (with ``instruction``) or a candidate (without): text, media, or both."""

    text: str | None = None
    media: list[Media] = field(default_factory=list)
    instruction: str | None = None

    def __post_init__(self) -> None:
        if not self.text and not self.media:
            raise ValueError("a sample needs text, media or both")


def normalize_text(text: str) -> str:
    """UniIR's normalisation: strip, capitalise the first character, end with a period."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def _with_hint(placeholder: str, hint: str | None) -> str:
    """'<image>' -> '<image> (tabby, tiger cat)': the hint's words follow the item's media tokens."""
    return f"{placeholder} ({hint})" if hint else placeholder


def words_only(sample: Sample) -> Sample | None:
    """The sample with each medium replaced by its hint words, or None unless every medium has words.

    '<image> Red.' with hint 'tabby, tiger cat' -> 'tabby, tiger cat Red.' (same instruction, no media):
    the text twin that ``HintsConfig.words_weight`` mixes into the item's embedding.
    """
    if not sample.media or not all(m.hint for m in sample.media):
        return None
    text = sample.text or ""
    words = iter(m.hint for m in sample.media)
    if PLACEHOLDER.search(text):
        text = PLACEHOLDER.sub(lambda _: next(words), text)
    else:
        text = " ".join([*words, text]).strip()
    return Sample(text=text, instruction=sample.instruction)


def render(sample: Sample, *, template: str, normalize: bool = True) -> str:
    """The composer's input string with media placeholders, e.g. 'Instruct: ...\\nQuery: <image> Red.'"""
    text = sample.text or ""
    found = PLACEHOLDER.findall(text)
    wanted = [m.modality for m in sample.media]
    if found and found != wanted:
        raise ValueError(f"text placeholders {found} do not match the sample's media {wanted}")
    if normalize and PLACEHOLDER.sub("", text).strip():
        text = normalize_text(text)
    if not found:
        text = " ".join([*(f"<{m}>" for m in wanted), text]).strip()
    if any(m.hint for m in sample.media):
        hints = iter(sample.media)
        text = PLACEHOLDER.sub(lambda p: _with_hint(p.group(0), next(hints).hint), text)
    if sample.instruction:
        return template.format(instruction=sample.instruction.strip(), content=text)
    return text
