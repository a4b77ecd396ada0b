"""Checkpoints: the trained heads (projectors, resampler, pooler, LoRA) plus everything needed to rebuild.

Frozen towers and the composer's base weights are not stored: they come from their own local
assets, named in ``config.yaml``. ``manifest.json`` records the tower recipes and a weights hash
so indexes and evaluation results can say exactly which model produced them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from omniret.config import dump_config, load_config
from omniret.model.omniret import OmniRet
from omniret.recipes import recipe_dict, recipe_hash

HEADS_FILE, CONFIG_FILE, MANIFEST_FILE = "heads.safetensors", "config.yaml", "manifest.json"


def head_state(model: OmniRet) -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers that are not frozen pretrained weights."""
    return {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith("towers.") and (not k.startswith("composer.") or "lora_" in k)
    }


def weights_hash(model: OmniRet) -> str:
    h = hashlib.sha256()
    for k, v in sorted(head_state(model).items()):
        h.update(k.encode())
        h.update(v.detach().to(torch.float16).cpu().numpy().tobytes())
    for tower in model.towers.values():
        h.update(tower.tower_id.encode())
    h.update((model.config.composer.path or "random").encode())
    return h.hexdigest()[:16]


def recipes(model: OmniRet) -> dict:
    towers = {k: {"id": t.tower_id, "recipe": recipe_dict(t.recipe)} for k, t in model.towers.items()}
    from omniret.config import to_dict

    media = to_dict(model.config.media)
    if model.config.hints.enabled:  # hint words change every media embedding; off keeps older hashes
        from omniret.hints import HINT_VERSION

        media["hints"] = {"version": HINT_VERSION, **to_dict(model.config.hints)}
    return {
        "towers": towers,
        "media": media,
        "hash": recipe_hash(*(t.recipe for t in model.towers.values()), media),
    }


def save_checkpoint(
    model: OmniRet, path: str | Path, *, dtype: torch.dtype = torch.float32, extra: dict | None = None
):
    """Write config.yaml, heads.safetensors (``dtype``, e.g. float16 for shipping) and manifest.json."""
    from safetensors.torch import save_file

    from omniret import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in head_state(model).items()
    }
    save_file(state, path / HEADS_FILE)
    (path / CONFIG_FILE).write_text(dump_config(model.config))
    manifest = {
        "omniret_version": __version__,
        "name": model.config.name,
        "stage": model.stage,
        "dim": model.dim,
        "weights_hash": weights_hash(model),
        "recipes": recipes(model),
        **(extra or {}),
    }
    (path / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def is_checkpoint(path: str | Path) -> bool:
    p = Path(path)
    return (p / CONFIG_FILE).is_file() and (p / HEADS_FILE).is_file()


def load_checkpoint(
    path: str | Path, *, overrides: list[str] | tuple[str, ...] = (), merge_lora: bool = True
) -> OmniRet:
    """An inference model (eval mode, frozen; LoRA folded into the composer unless ``merge_lora`` is
    False, which training needs to go on updating the adapters)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not is_checkpoint(path):
        raise FileNotFoundError(f"{path} is not an omniret checkpoint (needs {CONFIG_FILE} and {HEADS_FILE})")
    model = OmniRet.build(load_config(path / CONFIG_FILE, overrides))
    state = load_file(path / HEADS_FILE)
    if any("lora_" in k for k in state):
        model.set_stage(2, init_video_from_image=False)
    expected = head_state(model)
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path} does not fit its config: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False
    )
    model.requires_grad_(False)
    if merge_lora:
        model.composer.merge_lora()
    return model.eval()
