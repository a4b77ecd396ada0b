"""The CLIP-like dual-encoder baseline (the paper's Table 2 first group, docs/METHOD_NOTES.md, Feasibility (b)).

Each media family gets a small MLP on its *mean-pooled* frozen tower tokens, aligned LiT-style to
the frozen MiniLM sentence embedding of the paired text. Text is MiniLM as is. A mixed input (image
+ text, audio + text, video frames + audio track) is the renormalised sum of its parts' unit
vectors — UniIR score-level fusion — so composed queries work, but only as "both things at once",
never as "this, but changed". It trains in seconds on cached features, which is why it is the bar
that OmniRet's composer path must clear (or stay within ~5 % of) on the offline benchmark.

Saved as a directory: ``dual_encoder.json`` (config, recipe, data) + ``heads.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from omniret.baselines.bridge import MiniLM
from omniret.checkpoint import nonfinite_tensors, read_heads, state_hash, write_atomic
from omniret.config import load_config, to_dict
from omniret.errors import IntegrityError
from omniret.inputs import OmniInput
from omniret.inputs.features import FeatureExtractor
from omniret.inputs.modality import MODALITY_NAMES
from omniret.inputs.recipes import recipe_dict, recipe_hash
from omniret.towers import LazyTower

CONFIG_FILE = "dual_encoder.json"
FIELDS = MODALITY_NAMES


class PooledHead(nn.Module):
    """mean-pooled tower tokens (d,) -> LN -> Linear -> GELU -> Linear -> (dim,), FEASIBILITY rec. 1."""

    def __init__(self, *, in_dim: int, dim: int = 384, hidden: int = 1024) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(pooled), dim=-1)


class DualEncoder:
    """Same interface as ``Embedder``: ``encode(inputs) -> (n, 384)`` unit rows."""

    dim = 384

    def __init__(
        self, heads: nn.ModuleDict, *, preset: str = "omniret-small", cache=None, model_id="dual-encoder"
    ):

        cfg = load_config(preset)
        self.towers = {k: LazyTower(t) for k, t in cfg.towers.items()}  # built when first needed
        self.features = FeatureExtractor(self.towers, cfg.media, cache)
        self.heads, self.preset, self.model_id = heads.eval(), preset, model_id
        self._text = None

    # -------------------------------------------------------------- metadata
    @property
    def weights_hash(self) -> str:
        return state_hash(self.heads.state_dict(), dtype=torch.float32)

    @property
    def recipes(self) -> dict:

        media = to_dict(self.features.media)
        return {"towers": {k: {"id": t.tower_id, "recipe": recipe_dict(t.recipe)} for k, t in self.towers.items()},
                "media": media, "text": "minilm-l6 masked mean",
                "hash": recipe_hash(*(t.recipe for t in self.towers.values()), media)}  # fmt: skip

    def text_model(self):
        if self._text is None:
            self._text = MiniLM()
        return self._text

    # -------------------------------------------------------------- encoding
    def pooled(self, field: str, sources: list, *, span=None) -> list:
        """Mean-pooled tower features per source; a video gives (frames, audio track or None)."""
        if field == "image":
            return [x.float().mean(0) for x in self.features.images(sources)]
        if field == "audio":
            return [x.float().mean(0) for x in self.features.audios(sources, span=span)]
        return [(f.float().flatten(0, -2).mean(0), None if a is None else a.float().mean(0))
                for f, a in self.features.videos(sources, span=span)]  # fmt: skip

    def head(self, field: str, pooled) -> torch.Tensor:
        """One pooled feature -> unit (dim,); a video is the fused sum of its frame and sound-track vectors."""
        if field != "video":
            return self.heads["vision" if field == "image" else "audio"](pooled[None])[0]
        frames, track = pooled
        parts = [self.heads["vision"](frames[None])[0]]
        if track is not None and "audio" in self.heads:
            parts.append(self.heads["audio"](track[None])[0])
        return F.normalize(torch.stack(parts).sum(0), dim=-1)

    @torch.no_grad()
    def embed_field(self, field: str, values: list, *, span=None) -> torch.Tensor:
        """(n, 384) unit rows for one field of n inputs."""
        if field == "text":
            return self.text_model()(values)
        return torch.stack([self.head(field, f) for f in self.pooled(field, values, span=span)])

    def encode(self, inputs: list[OmniInput], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = torch.zeros(len(inputs), self.dim)
        for field in FIELDS:
            idx = [i for i, x in enumerate(inputs) if getattr(x, field) is not None]
            for k in range(0, len(idx), batch_size):
                chunk = idx[k : k + batch_size]
                if field in ("audio", "video") and any(inputs[i].span for i in chunk):  # spans key the cache
                    emb = torch.cat([self.embed_field(field, [getattr(inputs[i], field)], span=inputs[i].span)
                                     for i in chunk])  # fmt: skip
                else:
                    emb = self.embed_field(field, [getattr(inputs[i], field) for i in chunk])
                out[chunk] += emb
        return F.normalize(out, dim=-1).numpy()


def build_heads(tower_dims: dict[str, int], *, dim: int = 384, hidden: int = 1024) -> nn.ModuleDict:
    return nn.ModuleDict({k: PooledHead(in_dim=d, dim=dim, hidden=hidden) for k, d in tower_dims.items()})


def save_dual(heads: nn.ModuleDict, out: Path, meta: dict, *, dtype=torch.float16) -> Path:
    """Heads and ``dual_encoder.json`` (with the heads' SHA-256), each written whole or not at all;
    non-finite heads are refused before anything is written."""
    from safetensors.torch import save

    state = {k: v.detach().to(dtype).contiguous() for k, v in heads.state_dict().items()}
    bad = nonfinite_tensors(state)
    if bad:
        raise IntegrityError(f"{out}: not saved, tensor {bad[0]!r} holds non-finite values (NaN or infinity)")
    out.mkdir(parents=True, exist_ok=True)
    data = save(state)
    write_atomic(out / "heads.safetensors", lambda tmp: tmp.write_bytes(data))
    meta = {**meta, "heads_sha256": hashlib.sha256(data).hexdigest()}
    write_atomic(out / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=1)))
    return out


def is_dual(path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def load_dual(path, *, cache=None, verify: bool = True) -> DualEncoder:
    """``verify`` checks the heads' bytes against the SHA-256 in ``dual_encoder.json`` (when it has
    one); non-finite tensors are refused either way, naming the tensor."""

    path = Path(path)
    try:
        meta = json.loads((path / CONFIG_FILE).read_text())
        sizes = (meta["tower_dims"], meta["dim"], meta["hidden"], meta["preset"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise IntegrityError(
            f"{path / CONFIG_FILE}: not a dual-encoder description ({type(err).__name__}: {err})"
        ) from None
    sha = meta.get("heads_sha256") if verify else None
    heads = build_heads(sizes[0], dim=sizes[1], hidden=sizes[2])
    state = read_heads(path, sha256=sha, manifest=CONFIG_FILE)
    heads.load_state_dict({k: v.float() for k, v in state.items()})
    return DualEncoder(heads, preset=sizes[3], cache=cache, model_id=meta.get("model_id", path.name))


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
