"""P2 (index): ``Index.add`` on a real mixed media folder vs the frozen towers alone on the same segments.

"Towers alone" decodes every file, cuts it into exactly the segments the index embeds (audio windows,
video moments), and runs decode + preprocess + tower forward on them: what any pipeline using these
towers must pay. The index adds OmniRet's heads, hashing, planning, LanceDB commits and the final
compaction. Text files are left out: a passage has no frozen tower (the composer *is* its encoder).
Both sides run in this process after the model is loaded, feature cache off, side by side.

    .venv/bin/python benchmarks/p2_index_overhead.py [--batch-files 8 32] [--model DIR]

With a hinted model (``hints`` in its config) the towers' side also computes the hints, as the bar
counts them as a tower; the table shows the towers without hints beside it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from _common import table
from omniret.api import load_model
from omniret.datasets.render import make_video
from omniret.datasets.sources import animal_sounds
from omniret.index import Index
from omniret.index.decompose import decompose
from omniret.index.files import detect
from omniret.inputs.media import load_audio

CLIPART = Path("/usr/share/openclipart/png/animals")
SPEECH = Path("/usr/share/asterisk/sounds/en")


def make_folder(root: Path) -> Counter:
    """~30 photos, 60 drawings, 60 speech prompts, 8 animal recordings, 4 x 40 s speech, 4 x 20 s videos."""
    import skimage
    from PIL import Image

    photos = sorted(
        p for p in (Path(skimage.__file__).parent / "data").iterdir() if p.suffix in {".png", ".jpg"}
    )
    for p in photos:
        try:
            Image.open(p).convert("RGB").save(root / f"photo-{p.stem}.png")
        except OSError:
            continue
    for p in sorted(CLIPART.rglob("*.png"))[:60]:
        shutil.copyfile(p, root / f"drawing-{p.parent.name}-{p.name}")
    prompts = sorted(SPEECH.glob("*.wav"))[:60]
    for p in prompts:
        shutil.copyfile(p, root / f"speech-{p.name}")
    for name, p in animal_sounds().items():
        shutil.copyfile(p, root / f"animal-{name}.mp3")
    import soundfile as sf

    waves = [load_audio(p) for p in prompts]
    for i in range(4):  # long recordings: whole + overlapping 10 s windows
        sf.write(root / f"long-{i}.wav", np.resize(np.concatenate(waves[i * 10 :]), 40 * 16000), 16000)
    drawings = sorted(root.glob("drawing-*.png"))
    for i in range(4):  # 20 s videos with sound: two 10 s moments + whole
        imgs = [Image.open(d).convert("RGB") for d in drawings[i * 4 : i * 4 + 4]]
        make_video(imgs, np.resize(np.concatenate(waves[i:]), 20 * 16000), root / f"video-{i}.mp4",
                   seconds_each=5.0, fps=4, size=160)  # fmt: skip
    return Counter(detect(f, f.read_bytes()[:4096]) for f in root.iterdir())


def towers_alone(model, folder: Path, *, hints: bool = False) -> tuple[float, int]:
    """Decode, segment and run the towers on every segment the index would embed; with ``hints``,
    also the towers' zero-shot words (labels from the tokens, Whisper transcripts) a hinted model reads."""
    feats, n = model.features, 0
    start = time.perf_counter()
    images, audios, videos = [], [], []
    for f in sorted(folder.iterdir()):
        modality = detect(f, f.read_bytes()[:4096])
        for seg in decompose(f, modality)[0]:
            x, n = seg.input, n + 1
            if x.image is not None:
                images.append(x.image)
            elif x.audio is not None:
                audios.append(x.audio)
            else:
                videos.append((x.video, x.span))
    for i in range(0, len(images), 16):
        tokens = feats.images(images[i : i + 16])
        for t in tokens if hints else ():
            model.hints.image(t)
    for i in range(0, len(audios), 16):
        feats.audios(audios[i : i + 16])
        if hints:
            model.hints.audio(audios[i : i + 16])
    for path, span in videos:
        frames, _ = feats.videos([path], span=span)[0]
        if hints:
            model.hints.video(frames)
            model.hints.video_tracks([path], span=span)
    return time.perf_counter() - start, n


def index_once(model, folder: Path, db: Path, batch_files: int) -> tuple[float, int]:
    shutil.rmtree(db, ignore_errors=True)
    start = time.perf_counter()
    report = Index(db, model=model).add(
        [folder], batch_files=batch_files, transcripts="off"
    )  # P7 prices them
    return time.perf_counter() - start, report.rows_written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-files", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--model", default="omniret-small", help="preset or checkpoint dir (e.g. a hinted model)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(args.model, cache=False)
    hinted = model.model.config.hints.enabled
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "media"
        folder.mkdir()
        counts = make_folder(folder)
        towers_alone(model, folder)  # warm-up (first calls allocate)
        tower_s, hint_s, segments = [], [], 0
        index_s: dict[int, list[float]] = {b: [] for b in args.batch_files}
        for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits both sides
            t, segments = towers_alone(model, folder)
            tower_s.append(t)
            if hinted:  # the hints are a tower too: the issue's bar counts them on the towers' side
                hint_s.append(towers_alone(model, folder, hints=True)[0])
            for b in args.batch_files:
                t, rows = index_once(model, folder, Path(tmp) / "db", b)
                assert rows == segments, (rows, segments)
                index_s[b].append(t)
    tower = float(np.median(tower_s))
    rows = [["towers alone (decode + segment + tower)", "-", tower, "1.00x"]]
    if hinted:
        base, tower = tower, float(np.median(hint_s))
        rows = [["towers alone, no hints", "-", base, f"{base / tower:.2f}x"],
                ["towers + hints (labels, Whisper transcripts)", "-", tower, "1.00x"]]  # fmt: skip
    rows += [[f"Index.add, --batch-files {b}", b, float(np.median(s)), f"{np.median(s) / tower:.2f}x"]
             for b, s in index_s.items()]  # fmt: skip
    print(f"P2 (index): {sum(counts.values())} files {dict(counts)} -> {segments} segments; "
          f"median of {args.repeats}, {torch.get_num_threads()} threads, model {args.model}")  # fmt: skip
    print(table(["run", "files per commit", "seconds", "ratio"], rows))


if __name__ == "__main__":
    main()
