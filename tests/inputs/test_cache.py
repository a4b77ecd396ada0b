import multiprocessing as mp
import os
import time

import torch

from omniret.inputs.cache import FeatureCache


def test_round_trip_stores_float16(tmp_path):
    cache = FeatureCache(tmp_path)
    x = torch.randn(5, 7)
    key = cache.key("content", "tower", "recipe")
    assert cache.get(key) is None
    cache.put(key, {"tokens": x})
    got = cache.get(key)["tokens"]
    assert got.dtype == torch.float16 and torch.equal(got, x.half())
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.key("a", "b") != cache.key("a", "c") and cache.key("ab", "c") != cache.key("a", "bc")


def test_lru_eviction_keeps_recent_entries_under_the_cap(tmp_path):
    cache = FeatureCache(tmp_path, max_bytes=10**9)
    for i in range(6):
        cache.put(f"{i:064x}", {"tokens": torch.zeros(1000)})
        os.utime(cache._path(f"{i:064x}"), (i, i))  # entry i last used at time i
    os.utime(cache._path(f"{0:064x}"), (100, 100))  # entry 0 was just used again
    size = cache.stats().bytes // 6
    freed = cache.evict(max_bytes=3 * size)
    kept = {p.stem for p in tmp_path.glob("*/*.safetensors")}
    assert freed == 3 * size and kept == {f"{i:064x}" for i in (0, 4, 5)}
    assert cache.clear() == 3 and cache.stats().entries == 0


def test_damaged_entry_is_a_miss(tmp_path):
    cache = FeatureCache(tmp_path)
    key = cache.key("x")
    cache.put(key, {"tokens": torch.ones(3)})
    cache._path(key).write_bytes(b"garbage")
    assert cache.get(key) is None


def _hammer(root: str, seed: int, out: mp.Queue) -> None:
    cache = FeatureCache(root, max_bytes=200_000)  # small cap: eviction runs while others read
    bad = 0
    for i in range(150):
        key = cache.key(str((i * 7 + seed) % 20))
        value = torch.full((500,), float((i * 7 + seed) % 20))
        if i % 2:
            cache.put(key, {"tokens": value})
        else:
            got = cache.get(key)
            bad += got is not None and not torch.equal(got["tokens"].float(), value)
    out.put(bad)


def test_two_processes_reading_and_writing_see_only_whole_entries(tmp_path):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), s, out)) for s in (0, 3)]
    start = time.time()
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs) and time.time() - start < 120
    assert [out.get(), out.get()] == [0, 0]  # never a partial or mixed-up entry
    assert not list(tmp_path.glob("*/.tmp-*"))  # no temporary files left behind
