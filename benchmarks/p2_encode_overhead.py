"""P2: end-to-end ``encode`` on files vs the frozen towers alone on the same files (target <= 1.25x).

"Towers alone" is decode + preprocess + tower forward: what any pipeline using these towers must
pay. The ratio is the price of OmniRet's heads (projector, resampler, composer, ASWP) on top.
Feature cache disabled on both sides.

    .venv/bin/python benchmarks/p2_encode_overhead.py
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import torch

from _common import median_seconds, table
from omniret import OmniInput
from omniret.api import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers.media import write_video

ASTERISK = Path("/usr/share/asterisk/sounds/en")
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "camera.png", "horse.png", "page.png",
          "motorcycle_left.png"]  # fmt: skip
SPEECH = ["all-circuits-busy-now", "check-number-dial-again", "agent-loginok", "conf-onlyperson", "vm-goodbye",
          "vm-intro", "pls-hold-while-try", "queue-thankyou"]  # fmt: skip


def inputs(tmp: Path) -> dict[str, list[OmniInput]]:
    import skimage

    data = Path(skimage.__file__).parent / "data"
    videos = [
        write_video(tmp / f"v{i}.mp4", [(255, 0, 0), (0, 255, 0), (0, 0, 255)], size=128) for i in range(2)
    ]
    return {
        "image": [OmniInput(image=data / p) for p in PHOTOS],
        "audio": [OmniInput(audio=ASTERISK / f"{s}.wav") for s in SPEECH if (ASTERISK / f"{s}.wav").exists()],
        "video": [OmniInput(video=v) for v in videos],
    }


def main() -> None:
    torch.set_num_threads(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model("omniret-small", cache=False)
    rows, tot_e2e, tot_tower = [], 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        groups = inputs(Path(tmp))
        for kind, items in groups.items():
            sources = [getattr(x, kind) for x in items]
            extract = getattr(model.features, {"image": "images", "audio": "audios", "video": "videos"}[kind])
            tower = median_seconds(lambda s=sources, f=extract: f(s))
            e2e = median_seconds(lambda i=items: model.encode(i, batch_size=8))
            tot_e2e, tot_tower = tot_e2e + e2e, tot_tower + tower
            rows.append([kind, len(items), tower, e2e, f"{e2e / tower:.2f}x"])
    rows.append(["all", sum(r[1] for r in rows), tot_tower, tot_e2e, f"{tot_e2e / tot_tower:.2f}x"])
    print(f"P2: seconds per batch of files, omniret-small, {torch.get_num_threads()} threads (median of 5)")
    print(table(["media", "files", "towers alone (s)", "encode end-to-end (s)", "ratio"], rows))


if __name__ == "__main__":
    main()
