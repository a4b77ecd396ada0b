"""Checkpoints: the trained heads (projectors, resampler, pooler, LoRA) plus everything needed to rebuild.

Frozen towers and the composer's base weights are not stored: they come from their own local
assets, named in ``config.yaml``. ``manifest.json`` records the tower recipes and a weights hash
so indexes and evaluation results can say exactly which model produced them.

Integrity: loading recomputes the weights hash from the loaded heads and compares it with the
manifest's, and checks the file's SHA-256 where the manifest records one (``IntegrityError`` naming
the file and both hashes; ``verify=False`` skips both), and refuses non-finite tensors by name
whether verified or not. Measured on the shipped 10 MB float16 heads (2 shared cores): weights hash
10 ms, SHA-256 5.5 ms, non-finite scan 2.5 ms, against ~0.5 s for the whole load. ``weights_hash``
rounds to float16, so only ``heads_sha256`` sees a change below float16 precision in a float32
checkpoint. Saving refuses non-finite tensors too, and writes each file to a temporary name first, so
a crash never leaves a half-written file under a checkpoint's name.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from omniret.config import dump_config, load_config, to_dict
from omniret.errors import InputError, IntegrityError
from omniret.inputs.hints import HINT_VERSION
from omniret.inputs.recipes import recipe_dict, recipe_hash
from omniret.model.omniret import OmniRet
from omniret.towers.base import tower_id
from omniret.version import __version__

HEADS_FILE, CONFIG_FILE, MANIFEST_FILE = "heads.safetensors", "config.yaml", "manifest.json"


class NotACheckpointError(InputError, FileNotFoundError):
    """A path given as a checkpoint lacks config.yaml or heads.safetensors."""


def head_state(model: OmniRet) -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers that are not frozen pretrained weights."""
    return {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith("towers.") and (not k.startswith("composer.") or "lora_" in k)
    }


def weights_hash(model: OmniRet) -> str:
    """16 hex digits of SHA-256 over the head tensors (as float16), the tower ids and the composer path."""
    ids = [tower.tower_id for tower in model.towers.values()]
    return _digest(head_state(model), ids, model.config.composer.path)


def state_hash(state: dict[str, torch.Tensor], *, dtype: torch.dtype, extra: list[str] = ()) -> str:
    """16 hex digits of SHA-256 over every tensor (name, then values cast to ``dtype``, in name order)
    and the ``extra`` strings: the one weights hash of every model kind (OmniRet heads hash float16,
    the dual encoder float32)."""
    h = hashlib.sha256()
    for k, v in sorted(state.items()):
        h.update(k.encode())
        h.update(v.detach().to(dtype).cpu().numpy().tobytes())
    for text in extra:
        h.update(text.encode())
    return h.hexdigest()[:16]


def _digest(state: dict[str, torch.Tensor], tower_ids: list[str], composer_path: str | None) -> str:
    return state_hash(state, dtype=torch.float16, extra=[*tower_ids, composer_path or "random"])


def nonfinite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity, in key order.

    A float32 sum per tensor first (a NaN or infinity always survives it; ~6x faster than
    ``isfinite`` on float16), then the exact test only where the sum is not finite (a float32 sum of
    huge finite values can overflow)."""

    def finite(v: torch.Tensor) -> bool:
        return bool(torch.isfinite(v.float().sum())) or bool(torch.isfinite(v).all())

    return [k for k, v in sorted(state.items()) if v.is_floating_point() and not finite(v.detach())]


def check_finite(state: dict[str, torch.Tensor], where: str | Path) -> None:
    bad = nonfinite_tensors(state)
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise IntegrityError(f"{where}: tensor {bad[0]!r}{more} holds non-finite values (NaN or infinity)")


def read_manifest(path: str | Path) -> dict:
    """A checkpoint's manifest.json; a missing or malformed one is an IntegrityError naming the file."""
    file = Path(path) / MANIFEST_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IntegrityError(
            f"{file} is missing, so the weights cannot be verified (load with verify=False / --no-verify "
            "to use them anyway)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IntegrityError(f"{file}: not a readable JSON manifest ({err})") from None
    if not isinstance(data, dict):
        raise IntegrityError(f"{file}: expected a JSON object")
    return data


def verify_weights(model: OmniRet, path: str | Path, *, overrides: list[str] | tuple[str, ...] = ()) -> str:
    """Recompute the weights hash of ``model`` just loaded from checkpoint ``path`` and compare it with
    the manifest's; returns the hash. The hash covers the tower ids and composer path as written in the
    checkpoint's own config, so overrides (e.g. hints) never make a sound checkpoint fail."""
    path = Path(path)
    manifest = read_manifest(path)
    expected = manifest.get("weights_hash")
    if not isinstance(expected, str) or not expected:
        raise IntegrityError(
            f"{path / MANIFEST_FILE} records no weights_hash, so the weights cannot be verified"
        )
    cfg = model.config
    if overrides:
        cfg = load_config(path / CONFIG_FILE)
    if cfg.towers == model.config.towers:
        ids = [tower.tower_id for tower in model.towers.values()]
    else:
        ids = [tower_id(t) for t in cfg.towers.values()]
    found = _digest(head_state(model), ids, cfg.composer.path)
    if found != expected:
        raise IntegrityError(
            f"{path / HEADS_FILE}: weights hash {found} does not match {expected} recorded in "
            f"{path / MANIFEST_FILE}; the checkpoint is corrupted or was changed after saving "
            "(load with verify=False / --no-verify to use it anyway)"
        )
    return found


def write_atomic(file: Path, write) -> None:
    """``write(tmp)`` then rename over ``file``: readers see the old file or the new one, never half."""
    tmp = file.with_name(f".{file.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)


def recipes(model: OmniRet) -> dict:
    towers = {k: {"id": t.tower_id, "recipe": recipe_dict(t.recipe)} for k, t in model.towers.items()}

    media = to_dict(model.config.media)
    if model.config.hints.enabled:  # hint words change every media embedding; off keeps older hashes
        media["hints"] = {"version": HINT_VERSION, **to_dict(model.config.hints)}
    return {
        "towers": towers,
        "media": media,
        "hash": recipe_hash(*(t.recipe for t in model.towers.values()), media),
    }


def save_checkpoint(
    model: OmniRet, path: str | Path, *, dtype: torch.dtype = torch.float32, extra: dict | None = None
):
    """Write config.yaml, heads.safetensors (``dtype``, e.g. float16 for shipping) and manifest.json.

    The manifest records ``weights_hash`` (the model's identity, ``weights_hash``) and ``heads_sha256``
    (the exact bytes of heads.safetensors), both checked by ``load_checkpoint``."""
    from safetensors.torch import save

    path = Path(path)
    check_finite(head_state(model), f"refusing to save {path}")
    path.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in head_state(model).items()
    }
    check_finite(state, f"refusing to save {path} as {dtype}")  # e.g. float16 overflow
    data = save(state)
    write_atomic(path / HEADS_FILE, lambda tmp: tmp.write_bytes(data))
    write_atomic(path / CONFIG_FILE, lambda tmp: tmp.write_text(dump_config(model.config)))
    manifest = {
        "omniret_version": __version__,
        "name": model.config.name,
        "stage": model.stage,
        "dim": model.dim,
        "weights_hash": weights_hash(model),
        "heads_sha256": hashlib.sha256(data).hexdigest(),
        "recipes": recipes(model),
        **(extra or {}),
    }
    write_atomic(path / MANIFEST_FILE, lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n"))
    return path


def is_checkpoint(path: str | Path) -> bool:
    p = Path(path)
    return (p / CONFIG_FILE).is_file() and (p / HEADS_FILE).is_file()


def read_heads(
    path: str | Path, *, sha256: str | None = None, manifest: str = MANIFEST_FILE
) -> dict[str, torch.Tensor]:
    """The tensors of ``path/heads.safetensors``. Bytes that do not hash to ``sha256`` (when given),
    an unreadable file and non-finite tensors are an IntegrityError naming the file (and tensor)."""
    from safetensors.torch import load

    file = Path(path) / HEADS_FILE
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise NotACheckpointError(f"{file} not found") from None
    except OSError as err:
        raise IntegrityError(f"{file}: cannot read ({err.strerror or err})") from None
    found = hashlib.sha256(data).hexdigest() if sha256 is not None else None
    differs = f"; the file also differs from the SHA-256 in {manifest}" if found != sha256 else ""
    try:
        state = load(data)
    except Exception as err:  # SafetensorError, a truncated header, an unknown dtype ...
        reason = " ".join(str(err).split())
        raise IntegrityError(f"{file}: cannot read the weights ({reason}){differs}") from None
    bad = nonfinite_tensors(state)  # named first: more telling than a hash mismatch
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise IntegrityError(
            f"{file}: tensor {bad[0]!r}{more} holds non-finite values (NaN or infinity){differs}"
        )
    if found != sha256:
        raise IntegrityError(
            f"{file}: SHA-256 {found[:16]}... does not match {sha256[:16]}... recorded in "
            f"{Path(path) / manifest}; the file is corrupted or was changed after saving "
            "(load with verify=False / --no-verify to use it anyway)"
        )
    return state


def recorded_sha256(manifest: dict, path: Path) -> str | None:
    value = manifest.get("heads_sha256")  # checkpoints saved before it existed have only weights_hash
    if value is not None and not isinstance(value, str):
        raise IntegrityError(f"{path / MANIFEST_FILE}: heads_sha256 must be a string")
    return value


def load_checkpoint(
    path: str | Path,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    merge_lora: bool = True,
    verify: bool = True,
) -> OmniRet:
    """An inference model (eval mode, frozen; LoRA folded into the composer unless ``merge_lora`` is
    False, which training needs to go on updating the adapters). An inference model builds each
    tower on first use (a text query loads neither the image nor the audio tower) and, without LoRA
    adapters, a plain BERT composer without importing transformers (``model/bert.py``).

    ``verify`` (default) checks the bytes of heads.safetensors against the manifest's ``heads_sha256``
    (when recorded) and recomputes the weights hash against its ``weights_hash`` (``verify_weights``);
    non-finite tensors are refused either way."""
    path = Path(path)
    if not is_checkpoint(path):
        raise NotACheckpointError(
            f"{path} is not an omniret checkpoint (needs {CONFIG_FILE} and {HEADS_FILE})"
        )
    sha256 = recorded_sha256(read_manifest(path), path) if verify else None  # before the model is built
    state = read_heads(path, sha256=sha256)
    lora = any("lora_" in k for k in state)
    # inference: towers on first use, and a composer without LoRA adapters built without transformers
    model = OmniRet.build(load_config(path / CONFIG_FILE, overrides), lazy_towers=merge_lora,
                          native_composer=merge_lora and not lora)  # fmt: skip
    if lora:
        model.set_stage(2, init_video_from_image=False)
    expected = head_state(model)
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        raise IntegrityError(
            f"checkpoint {path} does not fit its config: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    shapes = [k for k, v in state.items() if v.shape != expected[k].shape]
    if shapes:
        k = shapes[0]
        raise IntegrityError(
            f"checkpoint {path} does not fit its config: tensor {k!r} is {tuple(state[k].shape)}, "
            f"the config builds {tuple(expected[k].shape)}"
        )
    model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False
    )
    if verify:
        verify_weights(model, path, overrides=overrides)
    model.requires_grad_(False)
    if merge_lora:
        model.composer.merge_lora()
    return model.eval()
