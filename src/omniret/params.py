"""Parameter accounting per component, without allocating big backbones (meta device)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from omniret.config import ModelConfig
from omniret.model.omniret import OmniRet

PAPER_TRAINABLE = 84_000_000  # OmniRet paper: trainable parameters of the full model


@dataclass
class ParamRow:
    component: str
    total: int
    stage1: int  # trainable in stage 1
    stage2: int  # trainable in stage 2 (with LoRA)


def _components(model: OmniRet) -> dict[str, torch.nn.Module]:
    parts = {f"towers.{k}": t for k, t in model.towers.items()}
    parts |= {f"projectors.{k}": p for k, p in model.projectors.items()}
    parts |= {"resampler": model.resampler, "composer": model.composer, "pooler": model.pooler}
    return parts


def _count(module: torch.nn.Module, *, trainable: bool = False, lora: bool | None = None) -> int:
    total = 0
    for name, p in module.named_parameters():
        if trainable and not p.requires_grad:
            continue
        if lora is not None and (("lora_" in name) != lora):
            continue
        total += p.numel()
    return total


def parameter_table(config: ModelConfig) -> list[ParamRow]:
    """Build ``config`` on the meta device and count per component for both training stages."""
    with torch.device("meta"):
        model = OmniRet.build(config, load_weights=False)
        model.set_stage(1)
        stage1 = {k: _count(m, trainable=True) for k, m in _components(model).items()}
        model.set_stage(2)
    rows = []
    for name, module in _components(model).items():
        if name == "composer":
            rows.append(ParamRow("composer (frozen base)", _count(module, lora=False), 0, 0))
            lora = _count(module, lora=True)
            rows.append(ParamRow("composer LoRA adapters", lora, 0, _count(module, trainable=True)))
        else:
            rows.append(ParamRow(name, _count(module), stage1[name], _count(module, trainable=True)))
    return rows
