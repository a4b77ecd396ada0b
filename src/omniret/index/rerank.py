"""Two-stage retrieval: the first stage's top N re-scored by multi-vector late interaction (ColBERT MaxSim).

The first stage compares one pooled vector per row; the second compares every query token with every
candidate token. No shipped checkpoint trains the multi-vector pooler, so the tokens are the composer's
final hidden states of the real (unpadded) tokens, resampled media tokens included, each L2-normalised
(``Embedder.token_states``): query and candidate pass the same composer, so their tokens share one space.
Token matrices are not stored in the index; each candidate is recomputed at query time from its row:
a text row from its stored ``text``, an image row from its file (``uri``), an audio or video row from its
file cut to ``(t0, t1)`` (a ``whole`` row uncut). A row that cannot be recomputed (its file is gone or
unreadable, a document page, a text row without stored text) is kept, never dropped: it goes after every
re-scored hit, in first-stage order, with ``rerank_score = None`` and the reason in
``meta["rerank_skipped"]`` (nothing to compare it with, so it cannot rank among scored hits, and hiding a
first-stage hit would be more surprising than demoting it).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from omniret.errors import InputError
from omniret.index.search import Hit
from omniret.inputs import OmniInput
from omniret.inputs.media import MediaError

RERANK_TOP = 100  # first-stage hits re-scored by default
SKIPPED = "rerank_skipped"  # meta key: why a hit within ``top`` was not re-scored


class RerankUnsupportedError(InputError):
    """The model has no token states to rerank with (a baseline, not an OmniRet model)."""


def supports_rerank(model) -> bool:
    """Whether ``model`` can rerank: an OmniRet ``Embedder`` (it offers ``token_states``). The caption
    bridge, dual encoder, score fusion and random ranker have no composer whose tokens MaxSim could read."""
    return callable(getattr(model, "token_states", None))


def require_rerank(model) -> None:
    """Raise ``RerankUnsupportedError`` unless ``supports_rerank(model)``."""
    if not supports_rerank(model):
        name = getattr(model, "model_id", type(model).__name__)
        raise RerankUnsupportedError(
            f"rerank needs an OmniRet model (its composer's token states); {name} is a "
            f"{type(model).__name__}, which has none: search without rerank or with an OmniRet preset/checkpoint"
        )


def maxsim(query_tokens: np.ndarray, cand_tokens: np.ndarray) -> float:
    """Late interaction of unit token rows (Tq, D) and (Tc, D): the mean over query tokens of the best
    cosine among candidate tokens.

    The mean, not ColBERT's sum, keeps the score a cosine in [-1, 1] whatever the query's length, so scores
    of different queries (and of a query with or without an instruction) stay comparable; for one query the
    order is the same. It equals ``losses.similarity`` for a multi-vector pooler's (V, D) embeddings."""
    q, c = np.asarray(query_tokens, np.float32), np.asarray(cand_tokens, np.float32)
    if q.ndim != 2 or c.ndim != 2 or q.shape[1] != c.shape[1] or not len(q) or not len(c):
        raise ValueError(
            f"maxsim needs non-empty (Tq, D) and (Tc, D) token matrices, got {q.shape} and {c.shape}"
        )
    return float((q @ c.T).max(axis=1).mean())


def candidate_input(hit: Hit) -> OmniInput | str:
    """The input a row was embedded from, rebuilt from the row, or why it cannot be."""
    if hit.modality == "text":  # passages of documents too: their stored text is what was embedded
        ok = hit.text and hit.text.strip()
        return OmniInput(text=hit.text[:4000]) if ok else "the row stores no text"  # cut as indexed
    if getattr(hit, "page", None) is not None:
        return "a document page (rendered from its file, not recomputed)"
    if hit.modality not in ("image", "audio", "video"):
        return f"modality {hit.modality!r} cannot be recomputed"
    if not os.path.isfile(hit.uri):
        return "file not found"
    if hit.modality == "image":
        return OmniInput(image=Path(hit.uri))
    if hit.segment_id == "whole" or hit.t0 is None or hit.t1 is None:
        return OmniInput(**{hit.modality: Path(hit.uri)})
    t0, t1 = float(hit.t0), float(hit.t1)
    span = (t0, max(t1, t0 + 0.05))  # as ``decompose`` cuts a video moment; OmniInput refuses t1 <= t0
    return OmniInput(**{hit.modality: Path(hit.uri)}, span=span)


def check_top(top) -> int:
    """How many first-stage hits to re-score: a positive whole number."""
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise InputError(f"rerank top must be a positive number of hits, not {top!r}")
    return int(top)


def rerank(
    model, query: OmniInput, hits: list[Hit], *, top: int = RERANK_TOP, batch_size: int = 16
) -> list[Hit]:
    """``hits`` (in first-stage order) with the first ``top`` re-ordered by ``maxsim`` with ``query``.

    Returns new ``Hit`` objects (the inputs are not modified): the re-scored ones first, by descending
    ``rerank_score`` (ties keep first-stage order), then the ones among the first ``top`` that could not be
    recomputed (module docstring), then hits beyond ``top`` unchanged. ``score`` and ``calibrated_score``
    keep the first stage's values. Raises ``RerankUnsupportedError`` for a model without token states."""
    require_rerank(model)
    top = check_top(top)
    head, tail = list(hits[:top]), list(hits[top:])
    if not head:
        return tail
    q = model.token_states([query], batch_size=1)[0]
    rebuilt = [candidate_input(h) for h in head]
    todo = [i for i, x in enumerate(rebuilt) if isinstance(x, OmniInput)]
    states = dict(zip(todo, _token_states(model, [rebuilt[i] for i in todo], batch_size), strict=True))
    scored, skipped = [], []
    for i, h in enumerate(head):
        got = states.get(i, rebuilt[i])
        if isinstance(got, np.ndarray):
            score = maxsim(q, got)
            scored.append((-score, i, replace(h, rerank_score=score)))
        else:
            skipped.append(replace(h, rerank_score=None, meta={**h.meta, SKIPPED: got}))
    return [h for *_, h in sorted(scored, key=lambda t: t[:2])] + skipped + tail


def _token_states(model, inputs: list[OmniInput], batch_size: int) -> list[np.ndarray | str]:
    """Each input's token matrix, or the reason its media error gave. Inputs of one modality signature
    are batched together; a batch that fails is retried one input at a time, so one unreadable file
    costs only its own row."""
    order = sorted(range(len(inputs)), key=lambda i: inputs[i].signature())
    out: list[np.ndarray | str] = [""] * len(inputs)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        try:
            got = model.token_states([inputs[i] for i in chunk], batch_size=batch_size)
        except MediaError:
            got = [_one(model, inputs[i]) for i in chunk]
        for i, tokens in zip(chunk, got, strict=True):
            out[i] = tokens
    return out


def _one(model, x: OmniInput) -> np.ndarray | str:
    try:
        return model.token_states([x], batch_size=1)[0]
    except MediaError as err:
        return err.reason
