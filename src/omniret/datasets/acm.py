"""The ACM (Audio-Centric Multimodal) benchmark builder, docs/METHOD_NOTES.md §10, over any captioned clip collection.

Input: ``clips.jsonl`` rows ``{"id", "audio", "caption", ["video"], ["image"], ["attributes": {...}]}``.
For each query clip: rank every other clip by caption similarity (MiniLM), walk the top 50 and accept a
candidate only if (1) its similarity lies in the window, (2) its similarity to the query differs by
at least ``delta`` from the last accepted target's (textual diversity) and (3) the same holds for
acoustic similarity (audio embeddings). Keep 3-5 targets, or drop the query. Each (query, target)
pair gets a modification text from a pluggable generator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omniret.assets import asset_path
from omniret.baselines.bridge import MiniLM
from omniret.errors import InputError
from omniret.inputs.media import load_audio
from omniret.inputs.media.mel import log_mel
from omniret.jsonl import read_jsonl
from omniret.towers.packaged import WhisperCT2Tower


@dataclass
class Clip:
    id: str
    audio: str
    caption: str
    video: str | None = None
    image: str | None = None
    attributes: dict = field(default_factory=dict)


@dataclass
class AcmStats:
    """How each rule changed the counts (documented in the manifest)."""

    queries_considered: int = 0
    rejected_window: int = 0
    rejected_textual: int = 0
    rejected_acoustic: int = 0
    queries_dropped_few_targets: int = 0
    queries_kept: int = 0
    targets: int = 0


def read_clips(path: Path) -> list[Clip]:
    """One ``{"id", "audio", "caption"[, "video"]}`` object per line; any other line names file:line."""
    clips = []
    for n, row in read_jsonl(path, required=("id", "audio", "caption")):
        try:
            clips.append(Clip(**row))
        except TypeError as err:
            raise InputError(f"{path}:{n}: expected a JSON object with id, audio, caption ({err})") from None
    return clips


def select_targets(
    caption_sim: np.ndarray,
    acoustic_sim: np.ndarray,
    *,
    window: tuple[float, float] = (0.6, 0.8),
    delta: float = 0.05,
    top: int = 50,
    min_targets: int = 3,
    max_targets: int = 5,
    stats: AcmStats | None = None,
) -> dict[int, list[int]]:
    """query index -> accepted target indices, following the paper's three rules."""
    stats = stats or AcmStats()
    out = {}
    for q in range(caption_sim.shape[0]):
        stats.queries_considered += 1
        sims = caption_sim[q].copy()
        sims[q] = -np.inf
        accepted: list[int] = []
        for c in np.argsort(-sims, kind="stable")[:top]:
            s = caption_sim[q, c]
            if not window[0] <= s <= window[1]:
                stats.rejected_window += 1
                continue
            if accepted:
                last = accepted[-1]
                if abs(s - caption_sim[q, last]) < delta:
                    stats.rejected_textual += 1
                    continue
                if abs(acoustic_sim[q, c] - acoustic_sim[q, last]) < delta:
                    stats.rejected_acoustic += 1
                    continue
            accepted.append(int(c))
            if len(accepted) == max_targets:
                break
        if len(accepted) < min_targets:
            stats.queries_dropped_few_targets += 1
            continue
        out[q] = accepted
        stats.queries_kept += 1
        stats.targets += len(accepted)
    return out


# ----------------------------------------------------------------------------- modification text

ATTRIBUTE_PHRASES = {
    "pitch": {("low", "middle"): "higher", ("middle", "high"): "higher", ("low", "high"): "much higher",
              ("middle", "low"): "lower", ("high", "middle"): "lower", ("high", "low"): "much lower"},
    "tempo": {("slow", "fast"): "faster", ("fast", "slow"): "slower"},
    "loudness": {("soft", "loud"): "louder", ("loud", "soft"): "softer"},
}  # fmt: skip


def attribute_modification(query: Clip, target: Clip) -> str:
    """A deterministic change description from structured attributes (no LLM needed)."""
    parts = []
    qa, ta = query.attributes, target.attributes
    if "instrument" in qa and qa.get("instrument") != ta.get("instrument"):
        parts.append(f"played on {_article(ta['instrument'])} instead")
    for key, phrases in ATTRIBUTE_PHRASES.items():
        if key in qa and qa[key] != ta.get(key):
            parts.append(phrases.get((qa[key], ta[key]), f"{ta[key]} {key}"))
    if not parts:
        return "The same sound, slightly different."
    text = ", ".join(parts)
    return text[0].upper() + text[1:] + "."


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def llm_modification(url: str, model: str, *, api_key: str | None = None) -> Callable[[Clip, Clip], str]:
    """An OpenAI-compatible chat endpoint writing the change from caption 1 to caption 2 (paper Table 8 rules)."""
    import urllib.request

    system = ("You describe how a first sound changes into a second one. At most 20 words; acoustic changes and "
              "temporal relations only; no visual attributes, object names or sound locations; never use the words "
              "details, specific, description, context, clarify, caption.")  # fmt: skip

    def generate(query: Clip, target: Clip) -> str:
        body = {"model": model, "messages": [{"role": "system", "content": system},
                {"role": "user", "content": f"Audio 1: {query.caption}\nAudio 2: {target.caption}"}]}  # fmt: skip
        req = urllib.request.Request(url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {api_key}"} if api_key else {})})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())["choices"][0]["message"]["content"].strip()

    return generate


def build_acm(
    clips: list[Clip],
    *,
    caption_embed: Callable[[list[str]], np.ndarray],
    audio_embed: Callable[[list[str]], np.ndarray],
    modify: Callable[[Clip, Clip], str] | None = None,
    window: tuple[float, float] = (0.6, 0.8),
    delta: float = 0.05,
) -> tuple[list[dict], AcmStats]:
    """-> triplets [{query, targets: [(clip, text)]}] and the per-rule statistics."""
    if modify is None:
        if not all(c.attributes for c in clips):
            raise ValueError(
                "no modification generator: configure an LLM endpoint or give every clip 'attributes'"
            )
        modify = attribute_modification
    cap = caption_embed([c.caption for c in clips])
    aud = audio_embed([c.audio for c in clips])
    stats = AcmStats()
    chosen = select_targets(cap @ cap.T, aud @ aud.T, window=window, delta=delta, stats=stats)
    triplets = [{"query": clips[q], "targets": [(clips[t], modify(clips[q], clips[t])) for t in ts]}
                for q, ts in chosen.items()]  # fmt: skip
    return triplets, stats


def default_embedders() -> tuple[Callable, Callable]:
    """MiniLM caption embeddings and Whisper-encoder mean-pooled audio embeddings (CLAP is not available offline)."""
    import torch

    text = MiniLM()
    tower = WhisperCT2Tower(path=asset_path("whisper-tiny-en"))

    def captions(texts: list[str]) -> np.ndarray:
        return text(texts).numpy()

    def audio(paths: list[str]) -> np.ndarray:
        rows = []
        for p in paths:
            mel = log_mel(load_audio(p), tower.recipe)
            tokens, mask = tower(mel[None], torch.tensor([mel.shape[-1]]))
            v = tokens[0][mask[0]].mean(0)
            rows.append((v / v.norm()).numpy())
        return np.stack(rows)

    return captions, audio


def rel_path(path: str, root: Path) -> str:
    """``path`` relative to the benchmark root when it lies inside it (as M-BEIR paths are)."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def acm_tasks(triplets: list[dict], *, root: Path) -> tuple[list[dict], list[dict]]:
    """(A,T)->A: one query per query audio (its first target, docs/METHOD_NOTES.md ambiguity 20) vs all targets."""
    targets: dict[str, Clip] = {}
    for t in triplets:
        for clip, _ in t["targets"]:
            targets.setdefault(clip.id, clip)
    ids = {cid: f"112:{i}" for i, cid in enumerate(targets)}
    pool = [
        {"did": ids[cid], "modality": "audio", "audio_path": rel_path(c.audio, root)}
        for cid, c in targets.items()
    ]
    queries = [{"query_modality": "audio,text", "query_audio_path": rel_path(t["query"].audio, root),
                "query_txt": t["targets"][0][1], "pos_cand_list": [ids[t["targets"][0][0].id]]} for t in triplets]  # fmt: skip
    return queries, pool


def audio_visual_tasks(
    triplets: list[dict], clips: list[Clip], *, root: Path
) -> dict[str, tuple[list, list]]:
    """A->V, V->A, A->I, I->A over the query clips plus the rest of the collection (the paper's AV tasks)."""
    out = {}
    for attr, mod in (("video", "video"), ("image", "image")):
        have = [c for c in clips if getattr(c, attr)]
        if not have:
            continue
        apool = [
            {"did": f"a:{i}", "modality": "audio", "audio_path": rel_path(c.audio, root)}
            for i, c in enumerate(have)
        ]
        vpool = [{"did": f"v:{i}", "modality": mod, f"{'img' if mod == 'image' else 'video'}_path":
                  rel_path(getattr(c, attr), root)} for i, c in enumerate(have)]  # fmt: skip
        index = {c.id: i for i, c in enumerate(have)}
        qs = [t["query"] for t in triplets if t["query"].id in index]
        key = "query_img_path" if mod == "image" else "query_video_path"
        a2x = [
            {
                "query_modality": "audio",
                "query_audio_path": rel_path(q.audio, root),
                "pos_cand_list": [f"v:{index[q.id]}"],
            }
            for q in qs
        ]
        x2a = [
            {
                "query_modality": mod,
                key: rel_path(getattr(q, attr), root),
                "pos_cand_list": [f"a:{index[q.id]}"],
            }
            for q in qs
        ]
        short = "v" if mod == "video" else "i"
        out[f"acm_a2{short}"] = (a2x, vpool)
        out[f"acm_{short}2a"] = (x2a, apool)
    return out
