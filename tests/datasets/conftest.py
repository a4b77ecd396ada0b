"""Helpers of the benchmark-builder tests: a whole output tree by content, tiny media files."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_hashes(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root``: two builds compare byte for byte."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def png(path: Path, colour: tuple[int, int, int], size: int = 8) -> Path:
    """A solid ``size`` x ``size`` PNG (its parent directories made)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).save(path)
    return path


def wav(path: Path, seconds: float = 0.1, freq: float = 440.0) -> Path:
    """A short 16 kHz mono sine WAV (its parent directories made)."""
    from tests.helpers.media import sine, write_audio

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, sine(freq, seconds, 16000), 16000)
