"""P6: the server. Cold start (time to first result: `omniret search "text"` in a fresh process vs
the server's /readyz and one search against it) and load (1,000 mixed requests from 16 concurrent
loopback clients: embeddings of 1-4 texts and text searches, with dynamic batching and without).

Runs on the demo index (`make demo` first) or any index given as the first argument.

    .venv/bin/python benchmarks/p6_serve.py [omniret-db]
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import uvicorn

from _common import table
from omniret.serve import ServeSettings, create_app

ROOT = Path(__file__).resolve().parents[1]
OMNIRET = str(ROOT / ".venv" / "bin" / "omniret")
WORDS = ("dog cat rooster cow coffee rocket speech hello goodbye dress bag sneaker drawing photo barking "
         "a the of small red white cup sky").split()  # fmt: skip
REQUESTS, CLIENTS = 1000, 16


def cold_cli(db: Path, native: bool = True) -> float:
    """``native=False``: the composer through transformers, as every search loaded it before."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMNIRET_NATIVE_COMPOSER": "1" if native else "0"}
    start = time.perf_counter()
    subprocess.run([OMNIRET, "search", "a photo of a cat", "--db", str(db), "-k", "3"], check=True,
                   capture_output=True, env=env)  # fmt: skip
    return time.perf_counter() - start


def cold_server(db: Path, port: int = 8791) -> tuple[float, float]:
    """(seconds to /readyz, seconds to the first search result) of a fresh `omniret serve` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([OMNIRET, "serve", "--db", str(db), "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        ready = time.perf_counter() - start
        httpx.post(url + "/v1/search", json={"query": "a photo of a cat", "k": 3}).raise_for_status()
        return ready, time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)


def load(db: Path, window_ms: float, max_batch: int) -> dict:
    app = create_app(ServeSettings(db=db, batch_window_ms=window_ms, max_batch=max_batch))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not (server.started and server.servers):
        time.sleep(0.02)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    while httpx.get(url + "/readyz").status_code != 200:
        time.sleep(0.05)
    rng = random.Random(0)
    plan = []
    for _ in range(REQUESTS):
        text = lambda: " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))  # noqa: E731
        if rng.random() < 0.5:
            plan.append(("/v1/embeddings", {"input": [text() for _ in range(rng.randint(1, 4))]}))
        else:
            plan.append(("/v1/search", {"query": text(), "k": 10}))
    latencies, statuses = [], []
    local = threading.local()

    def call(item):
        client = getattr(local, "client", None) or httpx.Client(timeout=120)
        local.client = client
        t = time.perf_counter()
        r = client.post(url + item[0], json=item[1])
        latencies.append(time.perf_counter() - t)
        statuses.append(r.status_code)

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(call, plan))
    wall = time.perf_counter() - start
    metrics = httpx.get(url + "/metrics").text
    server.should_exit = True
    thread.join(30)
    forwards = next(float(line.split()[-1]) for line in metrics.splitlines()
                    if line.startswith("omniret_batch_inputs_count"))  # fmt: skip
    q = statistics.quantiles(latencies, n=100)
    return {"wall": wall, "rps": REQUESTS / wall, "p50": q[49] * 1000, "p99": q[98] * 1000,
            "5xx": sum(s >= 500 for s in statuses), "non200": sum(s != 200 for s in statuses),
            "forwards": forwards}  # fmt: skip


def main() -> None:
    db = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "omniret-db")
    if not (db / "omniret.json").is_file():
        sys.exit(f"{db} holds no index: run `make demo` first (or pass an index directory)")
    cli = statistics.median(cold_cli(db) for _ in range(3))
    cli_hf = statistics.median(cold_cli(db, native=False) for _ in range(3))
    ready, first = zip(*(cold_server(db) for _ in range(3)), strict=True)
    print("cold start (median of 3 fresh processes)")
    print(table(["path", "seconds"], [["omniret search, composer via transformers (OMNIRET_NATIVE_COMPOSER=0)", cli_hf],
                                      ["omniret search (CLI, to first result)", cli],
                                      ["omniret serve to /readyz", statistics.median(ready)],
                                      ["omniret serve to first search result", statistics.median(first)]]))  # fmt: skip
    print(f"CLI cold start: native composer / transformers = {cli / cli_hf:.2f}x")
    batched, single = load(db, 5.0, 64), load(db, 0.0, 1)
    print(f"\nload: {REQUESTS} requests (half embeddings of 1-4 texts, half searches), {CLIENTS} clients")
    rows = [[name, r["rps"], r["p50"], r["p99"], r["5xx"], r["non200"], int(r["forwards"])]
            for name, r in (("dynamic batching (5 ms, 64)", batched), ("no batching", single))]  # fmt: skip
    print(table(["server", "req/s", "p50 ms", "p99 ms", "5xx", "non-200", "model forwards"], rows))
    print(f"throughput ratio batching / none: {batched['rps'] / single['rps']:.2f}x; "
          f"p99 ratio: {batched['p99'] / single['p99']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
