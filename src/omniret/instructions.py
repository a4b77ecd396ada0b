"""Instructions for queries that do not bring their own: one naming the target modality, or a generic one.

The paper prefixes every query with a task instruction; a user typing into ``omniret search`` has
none. A model whose config sets ``query_instructions`` was trained with these exact words mixed into
its dataset prompts (``instruction_mix``), so search can use them instead of no instruction at all.
"""

from __future__ import annotations

from omniret.config import QueryInstructionConfig

NOUN = {"image": "image", "audio": "audio clip", "video": "video", "text": "text"}


def target_modality(modalities: list[str] | tuple[str, ...] | None) -> str | None:
    """The one modality asked for, or None for none or several (an image+text candidate is an image)."""
    media = sorted({m for m in modalities or () if m in NOUN})
    non_text = [m for m in media if m != "text"]
    if len(non_text) == 1:
        return non_text[0]
    return media[0] if len(media) == 1 else None


def default_instruction(
    cfg: QueryInstructionConfig, modalities: list[str] | tuple[str, ...] | None
) -> str | None:
    """The model's own instruction for a search over ``modalities`` (None: every modality)."""
    target = target_modality(modalities)
    if target is not None and cfg.target:
        noun = NOUN[target]
        article = "an" if noun[0] in "aeiou" else "a"
        return cfg.target.format(article=article, modality=noun)
    return cfg.generic
