"""Three real-data collections for searching by what is *said* or *written*, with their own text only.

- **speech**: recordings made of held-out Asterisk studio prompts (the test split of the ``speech``
  task: never trained on), six per recording with 0.8 s of silence between them. A query is one
  prompt's human transcript; relevant is the recording, and at moment level the windows that overlap
  the prompt's span. The index hears the audio only (its words come from Whisper, ~8% word errors).
- **subtitles**: the same held-out prompts as videos (one still colour frame per second over the
  speech), each with a sidecar ``.srt`` whose cues are the human transcripts at the prompts' spans.
  Relevant: the moments overlapping the queried cue.
- **pdf**: real PDFs shipped by Debian documentation packages; a query is one sentence of a page's
  own text (as PDFium extracts it), relevant is that page.

Nothing here is written by us except file names; queries are sampled with a fixed seed, before any
model sees them, and no parameter of the searches is chosen on them (RRF k = 60 and the rerank depth
are fixed in advance).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from omniret.datasets import sources as src
from omniret.datasets.builder import is_test, stable_order
from omniret.datasets.offline_tasks import SPEECH_TEST_PERCENT
from omniret.datasets.render import make_video
from omniret.index.documents import pdf_segments
from omniret.inputs.media import load_audio

PROMPTS_PER_RECORDING = 6
GAP_SECONDS = 0.8
PDFS = (Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),  # Debian libtasn1-doc (GFDL-1.3+)
        Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"))  # Debian shared-mime-info (GPL-2+)  # fmt: skip
SENTENCES_PER_PDF = 40
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
RATE = 16000


def held_out_prompts() -> list[tuple[str, Path, str]]:
    """(key, wav, transcript) of the speech task's test prompts with 3+ words, one per transcript."""
    prompts = src.asterisk_prompts()
    by_text: dict[str, str] = {}
    for key in sorted(prompts):
        by_text.setdefault(prompts[key][1], key)
    keys = [k for k in sorted(by_text.values()) if is_test("ast", k, SPEECH_TEST_PERCENT)]
    return [(k, prompts[k][0], prompts[k][1]) for k in stable_order(keys, "words")
            if len(prompts[k][1].split()) >= 3]  # fmt: skip


def _joined(group) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The prompts' waves one after another with silence between; each prompt's (t0, t1)."""
    gap = np.zeros(int(GAP_SECONDS * RATE), np.float32)
    pieces, spans, t = [gap], [], GAP_SECONDS
    for _, wav, _ in group:
        wave = load_audio(wav)
        spans.append((round(t, 3), round(t + len(wave) / RATE, 3)))
        pieces += [wave, gap]
        t += (len(wave) + len(gap)) / RATE
    return np.concatenate(pieces), spans


def _recordings(prompts):
    """(number, prompts, joined wave, their spans) of each full group of ``PROMPTS_PER_RECORDING``."""
    for r in range(0, len(prompts) - PROMPTS_PER_RECORDING + 1, PROMPTS_PER_RECORDING):
        group = prompts[r : r + PROMPTS_PER_RECORDING]
        yield (r // PROMPTS_PER_RECORDING, group, *_joined(group))


def _queries(group, spans, name: str) -> list[dict]:
    return [{"query": text, "file": name, "t0": t0, "t1": t1, "source": key}
            for (key, _, text), (t0, t1) in zip(group, spans, strict=True)]  # fmt: skip


def build_speech(out: Path, prompts) -> list[dict]:
    import soundfile as sf

    queries = []
    for n, group, wave, spans in _recordings(prompts):
        path = out / f"recording-{n:02d}.wav"
        sf.write(path, wave, RATE, subtype="PCM_16")
        queries += _queries(group, spans, path.name)
    return queries


def build_subtitles(out: Path, prompts) -> list[dict]:
    from PIL import Image

    queries, palette = [], np.random.default_rng(7).integers(30, 225, (64, 3))
    for n, group, wave, spans in _recordings(prompts):
        seconds = int(np.ceil(len(wave) / RATE))
        wave = np.pad(wave, (0, seconds * RATE - len(wave)))
        frame = Image.new("RGB", (64, 64), tuple(int(c) for c in palette[n % len(palette)]))
        path = make_video(
            [frame] * seconds, wave, out / f"talk-{n:02d}.mp4", seconds_each=1.0, fps=2, size=64
        )
        cues = [f"{i}\n{_srt_time(t0)} --> {_srt_time(t1)}\n{text}\n"
                for i, ((_, _, text), (t0, t1)) in enumerate(zip(group, spans, strict=True), start=1)]  # fmt: skip
        path.with_suffix(".srt").write_text("\n".join(cues), encoding="utf-8")
        queries += _queries(group, spans, path.name)
    return queries


def _srt_time(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def build_pdf(out: Path, *, seed: int = 0) -> list[dict]:
    """Copies of the PDFs and one query sentence (8-40 words) per sampled page sentence."""
    import shutil

    rng, queries = np.random.default_rng(seed), []
    for pdf in PDFS:
        src._need(pdf, f"the Debian package that ships {pdf.name}")
        copy = out / pdf.name
        shutil.copyfile(pdf, copy)
        sentences = []
        for seg in pdf_segments(copy)[0]:
            if seg.input is not None and seg.input.text is not None:
                for s in _SENTENCE.split(" ".join(seg.text.split())):
                    if 8 <= len(s.split()) <= 40:
                        sentences.append((s, seg.page))
        unique = {s: p for s, p in sentences if sum(1 for t, _ in sentences if t == s) == 1}
        chosen = rng.choice(len(unique), size=min(SENTENCES_PER_PDF, len(unique)), replace=False)
        items = list(unique.items())
        queries += [{"query": items[i][0], "file": copy.name, "page": items[i][1]} for i in sorted(chosen)]
    return queries


def build(out: Path) -> dict[str, Path]:
    """The three collections under ``out`` (``<name>/media`` and ``<name>/queries.json``)."""
    prompts = held_out_prompts()
    made = {}
    for name, fn in (("speech", lambda d: build_speech(d, prompts)),
                     ("subtitles", lambda d: build_subtitles(d, prompts)), ("pdf", build_pdf)):  # fmt: skip
        media = out / name / "media"
        media.mkdir(parents=True, exist_ok=True)
        queries = fn(media)
        (out / name / "queries.json").write_text(json.dumps(queries, indent=1))
        made[name] = out / name
    return made
