"""A tower that is built on first use: an inference model loads only the towers its inputs need.

A text search never runs the image or audio tower, yet loading them cost every ``omniret search``
and every server start their weights' load (Whisper's ~0.35 s on 2 cores). What the rest of the
system asks of a tower before it runs — modality, width, preprocessing recipe, weights id — comes
from the config alone; anything else (running it, its grid, ``classify_tokens``, ``transcribe``)
builds it once, thread-safely. Device and dtype moves made before the build are replayed on it.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from torch import nn

from omniret.config import TowerConfig
from omniret.towers.base import Tower, build_tower, recipe_of, tower_id


class LazyTower(nn.Module):
    def __init__(self, cfg: TowerConfig, *, load_weights: bool = True) -> None:
        super().__init__()
        self.cfg = cfg if load_weights or cfg.path is None else replace(cfg, path=None)
        self.modality, self.dim = cfg.modality, cfg.dim
        self.recipe, self.tower_id = recipe_of(self.cfg), tower_id(self.cfg)
        self._lock, self._moves = threading.Lock(), []
        self.train(False)

    @property
    def built(self) -> bool:
        return "tower" in self._modules

    def get(self) -> Tower:
        """The real tower, built (and moved like this module was) on the first call."""
        with self._lock:
            if not self.built:
                tower = build_tower(self.cfg)
                for fn in self._moves:
                    tower._apply(fn)
                self.tower = tower  # registered: parameters, state_dict and later moves include it
        return self._modules["tower"]

    def forward(self, x, lengths=None):
        return self.get()(x, lengths)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)  # parameters, buffers, the built tower
        except AttributeError:
            if name.startswith("_") or name == "tower":
                raise
        return getattr(self.get(), name)

    def _apply(self, fn, recurse: bool = True):
        if not self.built:
            self._moves.append(fn)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True) -> LazyTower:  # frozen towers never leave eval mode
        return super().train(False)
