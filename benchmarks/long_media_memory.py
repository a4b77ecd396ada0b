"""Long media: peak RSS and rows while ``omniret index`` indexes one 3-hour recording (issue 12).

Writes a 3 h, 16 kHz mono 16-bit WAV once (346 MB, a quiet tone with a louder marked minute every
half hour) to ``bench/long_media/`` (git-ignored), then runs ``omniret index`` on it with the shipped
``omniret-small`` in a child process, as users run it, with its own feature cache in a temporary
folder. The child's peak RSS comes from its rusage; psutil samples it every second as well, so a run
stopped by ``--timeout`` still reports what it reached. Target: <= 1 GiB and every window indexed.

    nice -n 10 .venv/bin/python benchmarks/long_media_memory.py [--hours 3] [--timeout 1500]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RATE = 16000
TARGET_MIB = 1024


def make_recording(path: Path, hours: float) -> Path:
    """A quiet 220 Hz tone with a louder 880 Hz minute every 30 min, written a minute at a time."""
    import soundfile as sf

    seconds = round(hours * 3600)
    if path.is_file() and sf.info(path).frames == seconds * RATE:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    with sf.SoundFile(tmp, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for start in range(0, seconds, 60):
            t = start + np.arange(min(60, seconds - start) * RATE) / RATE
            marked = start % 1800 == 900
            f.write(
                ((0.4 if marked else 0.05) * np.sin(2 * np.pi * (880 if marked else 220) * t)).astype(
                    np.float32
                )
            )
    tmp.replace(path)
    return path


def run_index(recording: Path, db: Path, cache: Path, model: str, timeout: float | None) -> dict:
    import psutil

    cmd = [sys.executable, "-m", "omniret.cli.main", "index", str(recording), "--db", str(db), "--quiet",
           "--model", model]  # fmt: skip
    env = {**os.environ, "OMNIRET_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log = open(cache.parent / "index.log", "w+")  # a file, not a pipe: the child never blocks on it
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc, sampled, trace, stopped = psutil.Process(child.pid), 0, [], False
    while child.poll() is None:
        try:
            rss = proc.memory_info().rss
        except psutil.Error:
            break
        sampled = max(sampled, rss)
        elapsed = time.perf_counter() - start
        if not trace or elapsed - trace[-1][0] >= 60:  # windows encoded so far: each caches its tokens
            trace.append((elapsed, rss, sum(1 for _ in cache.rglob("*.safetensors"))))
        if timeout is not None and elapsed > timeout:
            child.kill()  # only our own child
            stopped = True
            break
        time.sleep(1.0)
    child.wait()
    wall = time.perf_counter() - start
    log.seek(0)
    out = log.read()
    log.close()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # bytes (Linux reports KiB)
    return {"returncode": child.returncode, "stopped": stopped, "wall": wall, "peak": max(peak, sampled),
            "trace": trace, "output": out}  # fmt: skip


def count_rows(db: Path) -> dict:
    from omniret.index.store import Store

    table = Store(db).table()
    if table is None:
        return {"rows": 0, "whole": 0, "windows": 0}
    ids = table.search().select(["segment_id"]).limit(None).to_arrow()["segment_id"].to_pylist()
    return {"rows": len(ids), "whole": ids.count("whole"), "windows": len(ids) - ids.count("whole")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--model", default="omniret-small")
    ap.add_argument("--timeout", type=float, default=None, help="Stop the child after this many seconds.")
    args = ap.parse_args()
    from omniret.index.decompose import AUDIO_HOP, AUDIO_WINDOW, windows

    t = time.perf_counter()
    recording = make_recording(ROOT / "bench" / "long_media" / f"tone-{args.hours:g}h.wav", args.hours)
    print(
        f"recording: {recording} ({recording.stat().st_size / 2**20:.0f} MiB, {time.perf_counter() - t:.0f} s to make)"
    )
    expected = len(windows(args.hours * 3600, AUDIO_WINDOW, AUDIO_HOP))
    with tempfile.TemporaryDirectory() as tmp:
        res = run_index(recording, Path(tmp) / "db", Path(tmp) / "cache", args.model, args.timeout)
        rows = count_rows(Path(tmp) / "db") if not res["stopped"] else {"rows": 0, "whole": 0, "windows": 0}
    print("  time      RSS       cache entries (~2 per encoded window: tower tokens + transcript)")
    for elapsed, rss, entries in res["trace"]:
        print(f"  {elapsed / 60:5.1f} min {rss / 2**20:6.0f} MiB  {entries}")
    if res["returncode"] and not res["stopped"]:
        print(res["output"][-3000:])
    status = "stopped by --timeout" if res["stopped"] else f"exit {res['returncode']}"
    peak = res["peak"] / 2**20
    print(f"omniret index ({args.model}) on {args.hours:g} h of 16 kHz audio: {status}")
    print(
        f"peak RSS   {peak:.0f} MiB (target <= {TARGET_MIB} MiB: {'met' if peak <= TARGET_MIB else 'MISSED'})"
    )
    print(
        f"rows       {rows['rows']} = {rows['whole']} whole + {rows['windows']} windows (expected 1 + {expected})"
    )
    print(f"wall time  {res['wall']:.0f} s ({res['wall'] / max(expected, 1):.2f} s per window)")


if __name__ == "__main__":
    main()
