"""The encode API: ``load_model(name_or_dir).encode([OmniInput(...), ...]) -> (n, dim) float32``."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from omniret.baselines.bridge import BridgeCaption
from omniret.baselines.dual import is_dual, load_dual
from omniret.checkpoint import is_checkpoint, load_checkpoint
from omniret.config import load_config, preset_names
from omniret.embedder import Embedder, resolve_precision
from omniret.errors import InputError
from omniret.inputs.cache import FeatureCache
from omniret.model import OmniRet

__all__ = ["SHIPPED", "Embedder", "ModelNotFoundError", "load_model", "resolve_precision"]

SHIPPED = Path(__file__).parent / "weights"  # trained heads that ship with the package, one dir per preset


class ModelNotFoundError(InputError, FileNotFoundError):
    """``load_model`` got a name that is no preset, baseline, checkpoint or YAML file."""


def load_model(
    source: str | Path = "omniret-small",
    *,
    cache: bool | str | Path = True,
    overrides: list[str] | tuple[str, ...] = (),
    precision: str = "auto",
    verify: bool = True,
):
    """A ready-to-encode model: a preset name, a checkpoint directory, a YAML file, ``bridge-caption``
    or ``dual-encoder`` (the shipped baseline; or a directory written by ``omniret train-dual``).

    A preset loads the trained heads shipped with the package when there are any; otherwise its heads
    are freshly initialised and a warning says so. ``cache`` is True (default directory), False, or a path.
    ``precision`` ("auto", "fp32", "bf16") is the heads' inference precision (see ``resolve_precision``).
    ``verify`` checks a checkpoint's weights hash against its manifest (``checkpoint.verify_weights``;
    ``IntegrityError`` on a mismatch); False is the explicit escape for a checkpoint known to differ.
    """
    feature_cache = None
    if cache:
        feature_cache = FeatureCache(None if cache is True else cache)
    name = str(source)
    if name == "bridge-caption":
        return BridgeCaption(cache=feature_cache)
    if name == "dual-encoder" and is_dual(SHIPPED / name):
        return load_dual(SHIPPED / name, cache=feature_cache, verify=verify)
    if is_dual(name):
        return load_dual(name, cache=feature_cache, verify=verify)
    if is_checkpoint(name):
        return Embedder(
            load_checkpoint(name, overrides=overrides, verify=verify),
            cache=feature_cache,
            model_id=Path(name).name,
            precision=precision,
        )
    if name in preset_names() and is_checkpoint(SHIPPED / name):
        return Embedder(
            load_checkpoint(SHIPPED / name, overrides=overrides, verify=verify),
            cache=feature_cache,
            model_id=name,
            precision=precision,
        )
    if name in preset_names() or Path(name).is_file():
        with torch.random.fork_rng():  # fresh heads are seeded: the same untrained model every time
            torch.manual_seed(0)
            model = OmniRet.build(load_config(name, overrides))
        warnings.warn(
            f"{name}: no trained heads found; projector, resampler and pooler are randomly initialised, "
            "so embeddings are not meaningful until the model is trained (omniret train)",
            stacklevel=2,
        )
        return Embedder(model, cache=feature_cache, model_id=name, precision=precision)
    raise ModelNotFoundError(
        f"{name!r} is not a preset ({', '.join(preset_names())}), 'bridge-caption', 'dual-encoder', a checkpoint directory or a YAML file"
    )
