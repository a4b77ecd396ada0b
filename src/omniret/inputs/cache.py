"""On-disk cache of frozen-tower outputs, so no file is decoded or run through a tower twice.

Entries are keyed by (content hash, tower id, recipe hash): the same bytes through the same
weights and preprocessing always give the same tokens. Each entry is one safetensors file written
to a temporary name and renamed into place, so concurrent readers and writers (several processes)
only ever see whole entries. A size cap evicts least-recently-used entries (mtime, touched on hit).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

DEFAULT_MAX_BYTES = 5 * 1024**3


def default_cache_dir() -> Path:
    env = os.environ.get("OMNIRET_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "omniret" / "features"


@dataclass
class CacheStats:
    root: Path
    entries: int
    bytes: int
    max_bytes: int


class FeatureCache:
    """A directory of tensors keyed by strings; tokens are stored as float16 (halves the disk)."""

    def __init__(self, root: str | Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = max_bytes
        self._written_since_scan = 0
        self.hits = self.misses = 0

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        from safetensors.torch import load_file

        path = self._path(key)
        try:
            tensors = load_file(path)
            os.utime(path)  # LRU: a hit makes the entry recent
        except Exception:  # absent, evicted meanwhile, or damaged: a cache must never crash the caller
            self.misses += 1
            return None
        self.hits += 1
        return tensors

    def put(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        from safetensors.torch import save_file

        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        stored = {
            k: (v.to(torch.float16) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        try:
            save_file(stored, tmp)
            os.replace(tmp, path)  # atomic on POSIX: readers see the old entry or the whole new one
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._written_since_scan += path.stat().st_size
        if self._written_since_scan > self.max_bytes // 20:
            self.evict()

    def _entries(self) -> list[tuple[float, int, Path]]:
        out = []
        for path in self.root.glob("*/*.safetensors"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out.append((st.st_mtime, st.st_size, path))
        return out

    def evict(self, max_bytes: int | None = None) -> int:
        """Delete least-recently-used entries until the cache fits; returns bytes freed."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        entries = sorted(self._entries())
        total, freed = sum(e[1] for e in entries), 0
        for _, size, path in entries:
            if total - freed <= limit:
                break
            path.unlink(missing_ok=True)
            freed += size
        self._written_since_scan = 0
        return freed

    def stats(self) -> CacheStats:
        entries = self._entries()
        return CacheStats(self.root, len(entries), sum(e[1] for e in entries), self.max_bytes)

    def clear(self) -> int:
        """Remove every entry; returns the number removed."""
        entries = self._entries()
        for _, _, path in entries:
            path.unlink(missing_ok=True)
        return len(entries)
