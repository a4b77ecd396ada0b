"""P4: peak RSS while indexing 10k mixed items (images, audio clips, text passages).

Runs ``omniret index`` in a child process (as users run it) and reads its peak RSS from rusage. The
index-vs-towers time ratio is P2 (``p2_index_overhead.py``), measured on real media.

    .venv/bin/python benchmarks/p4_index_memory.py [--items 10000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import table


def make_folder(root: Path, n: int) -> dict[str, int]:
    import soundfile as sf
    from PIL import Image

    rng = np.random.default_rng(0)
    counts = {"image": 0, "audio": 0, "text": 0}
    for i in range(n):
        kind = ("image", "audio", "text")[i % 3]
        if kind == "image":
            Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(root / f"img{i:05d}.png")
        elif kind == "audio":
            t = np.arange(8000) / 16000
            sf.write(
                root / f"snd{i:05d}.wav",
                (0.3 * np.sin(2 * np.pi * (200 + i % 800) * t)).astype(np.float32),
                16000,
            )
        else:
            (root / f"doc{i:05d}.md").write_text(
                f"Note {i}: " + " ".join(rng.choice(["cat", "dog", "rocket", "tea"], 20))
            )
        counts[kind] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "media"
        folder.mkdir()
        counts = make_folder(folder, args.items)
        env_cache = {"OMNIRET_CACHE_DIR": str(Path(tmp) / "cache")}
        import os

        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "omniret.cli.main", "index", str(folder), "--db", str(Path(tmp) / "db"),
                        "--quiet"], check=True, capture_output=True,
                       env={**os.environ, **env_cache})  # fmt: skip
        index_s = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(table(["items", "peak RSS of `omniret index` (MB)", "target (MB)", "wall time (s)", "items/s"],
                [[f"{args.items:,} {counts}", f"{peak_mb:.0f}", 2048, f"{index_s:.0f}", f"{args.items / index_s:.1f}"]]))  # fmt: skip


if __name__ == "__main__":
    main()
