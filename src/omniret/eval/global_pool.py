"""The global pool (UniIR's M-BEIR global setting): every query searches the union of the split's pools.

In a task's own (local) pool every candidate has the right modality, so a model that ranks by
modality before meaning still looks good there. In the union, a T→I query competes with every text,
audio and video candidate of the split too; the drop from local to global recall, and the
modality precision of the top hits, measure that failure.

The union is ``cand_pool/global/mbeir_union_{split}_cand_pool.jsonl`` when the root has one, else
the local pools of every task with a query file in the split (whatever ``--tasks`` selects, so a
task filter never makes the pool easier), de-duplicated by did. Each unique candidate is encoded
once; with both pools scored, the local pools reuse the union's embeddings and each task's queries
are encoded once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from omniret.baselines.fusion import RandomRanker
from omniret.eval.geometry import geometry_report
from omniret.eval.harness import (
    CandidateCache,
    TaskResult,
    encode_pool,
    encode_queries,
    random_result,
    rank_task,
)
from omniret.eval.mbeir import BenchmarkFormatError, Candidate, Task, find_tasks, read_pool

POOLS = ("local", "global", "both")
HUB_K = 10


@dataclass
class GlobalPool:
    candidates: list[Candidate]
    files: tuple[Path, ...]  # the file(s) the union was read from
    key: str  # a hash of the candidates' content: the candidate-cache key
    source: str = "union of local pools"  # or "union file"


def union_file(root: Path, split: str) -> Path:
    return root / "cand_pool" / "global" / f"mbeir_union_{split}_cand_pool.jsonl"


def load_global_pool(root: str | Path, split: str = "test") -> GlobalPool:
    root = Path(root)
    path = union_file(root, split)
    if path.is_file():
        return union_of([path], source="union file")
    return union_of([p for _, _, p in find_tasks(root, split)], source="union of local pools")


def union_of(files: list[Path], *, source: str = "union of local pools") -> GlobalPool:
    """Candidates of ``files`` in order, first occurrence of each did kept.

    The same did with different content would make relevance ambiguous (which one is the positive?),
    so it is an error naming both files rather than a silent pick.
    """
    seen: dict[str, tuple[Candidate, Path]] = {}
    for path in files:
        for c in read_pool(path):
            first = seen.setdefault(c.did, (c, path))
            if first[0] != c:
                raise BenchmarkFormatError(
                    f"did {c.did!r} names two different candidates: {first[1]} has {_brief(first[0])}, "
                    f"{path} has {_brief(c)}"
                )
    candidates = [c for c, _ in seen.values()]
    content = "\n".join(json.dumps(asdict(c), sort_keys=True) for c in candidates)
    key = "union:" + hashlib.sha256(content.encode()).hexdigest()
    return GlobalPool(candidates=candidates, files=tuple(files), key=key, source=source)


def _brief(c: Candidate) -> str:
    return json.dumps({k: v for k, v in asdict(c).items() if v is not None}, ensure_ascii=False)


def local_from_union(union: GlobalPool, emb: np.ndarray, bad: dict[int, str], pool: list[Candidate]):
    """A local pool's (embeddings, failures) gathered from the union's, or None when the union
    lacks one of its candidates or holds a different one under the same did (then encode it)."""
    at = {c.did: i for i, c in enumerate(union.candidates)}
    idx = [at.get(c.did) for c in pool]
    if any(i is None or union.candidates[i] != c for i, c in zip(idx, pool, strict=True)):
        return None
    return emb[np.array(idx, dtype=np.int64)], {j: bad[i] for j, i in enumerate(idx) if i in bad}


@dataclass
class PoolRun:
    """Everything one model's evaluation produced; embeddings are kept for the geometry report."""

    local: list[TaskResult] = field(default_factory=list)
    global_: list[TaskResult] = field(default_factory=list)
    union: GlobalPool | None = None
    union_emb: np.ndarray | None = None
    union_bad: dict[int, str] = field(default_factory=dict)
    queries: list[tuple[Task, np.ndarray, dict[int, str]]] = field(default_factory=list)

    @property
    def skipped_candidates(self) -> list[tuple[str, str]]:
        """Union candidates that could not be encoded (they left the global pool)."""
        return (
            [(self.union.candidates[i].did, r) for i, r in sorted(self.union_bad.items())]
            if self.union
            else []
        )


def evaluate_pools(model, tasks: list[Task], root: Path, *, pool: str = "local", ks: list[int], split: str = "test",
                   batch_size: int = 16, cache: CandidateCache | None = None, seed: int = 0,
                   union: GlobalPool | None = None,
                   on_result: Callable[[TaskResult], None] | None = None) -> PoolRun:  # fmt: skip
    """Score every task in its local pool, the global pool or both (``pool``).

    ``union`` is the global pool when already loaded (read once for several models); ``on_result``
    sees each task result as soon as it is ready (progress on long runs).
    """
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, not {pool!r}")
    run = PoolRun()
    report = on_result or (lambda _res: None)
    if pool != "local":
        run.union = union or load_global_pool(root, split)
        if not isinstance(model, RandomRanker):
            run.union_emb, run.union_bad = encode_pool(
                model, root, run.union.candidates, key=run.union.key, batch_size=batch_size, cache=cache
            )
    for task in tasks:
        local_files = (str(task.query_file), str(task.pool_file))
        global_files = (str(task.query_file), *map(str, run.union.files)) if run.union else ()
        if isinstance(model, RandomRanker):
            done = []
            if pool != "global":
                done.append(random_result(task, task.pool, ks=ks, seed=seed, files=local_files))
            if run.union:
                done.append(random_result(task, run.union.candidates, ks=ks, seed=seed, pool_name="global",
                                          files=global_files))  # fmt: skip
        else:
            queries, bad_q = encode_queries(model, root, task, batch_size=batch_size)
            run.queries.append((task, queries, bad_q))
            done = []
            if pool != "global":
                shared = None
                if run.union is not None:
                    shared = local_from_union(run.union, run.union_emb, run.union_bad, task.pool)
                cand, bad_c = shared or encode_pool(
                    model, root, task.pool, key=task.pool_file, batch_size=batch_size, cache=cache
                )
                done.append(rank_task(task, queries, bad_q, task.pool, cand, bad_c, ks=ks, files=local_files))
            if run.union:
                done.append(rank_task(task, queries, bad_q, run.union.candidates, run.union_emb, run.union_bad,
                                      ks=ks, pool_name="global", files=global_files))  # fmt: skip
        for res in done:
            (run.local if res.pool == "local" else run.global_).append(res)
            report(res)
    return run


def pool_geometry(run: PoolRun, *, k: int = HUB_K, cap: int = 2000, seed: int = 0) -> dict | None:
    """The geometry report on the union's encoded candidates and every encoded query, with hubness
    from the queries' global top k. None without embeddings (random ranker, local pool only)."""
    if run.union is None or run.union_emb is None:
        return None
    kept = [i for i in range(len(run.union.candidates)) if i not in run.union_bad]
    cands = [run.union.candidates[i] for i in kept]
    index = {c.did: j for j, c in enumerate(cands)}
    results = {r.name: r for r in run.global_}
    rows, modalities, top = [], [], []
    for task, queries, bad_q in run.queries:
        ranked = results[task.name].run  # one (qid, hits) row per query, in query order
        for qi, q in enumerate(task.queries):
            if qi in bad_q:
                continue
            rows.append(queries[qi])
            modalities.append(q.modality)
            top.append([index[d] for d, _ in ranked[qi][1][:k]])
    queries = np.stack(rows) if rows else np.zeros((0, *run.union_emb.shape[1:]), dtype=np.float32)
    report = geometry_report(run.union_emb[kept], [c.modality for c in cands], queries, modalities, top, k=k,
                             cap=cap, seed=seed)  # fmt: skip
    hub = report["hubness"].pop("hub_index")
    report["hubness"]["hub_did"] = None if hub is None else cands[hub].did
    report["hubness"]["hub_modality"] = None if hub is None else cands[hub].modality
    return {"pool": "global", "source": run.union.source, **report}
