"""Searching by words: dense vs keyword vs hybrid vs hybrid + rerank on the three ``datasets.words``
collections (speech recordings, subtitled videos, PDF pages), through the real index.

Each collection is indexed as a user would (``Index.add``: Whisper transcripts, sidecar subtitles, PDF
pages), then every query is searched in each mode. A hit list is read as a ranking of *units* (the
first hit of each unit counts, later ones are skipped): recordings or files (``asset``), moments that
overlap the query's span (``moment``; a whole-recording row does not locate anything and is no moment),
or PDF pages (``page``). Recall@k and MRR@10 per unit, with the mean query time per mode.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from omniret.datasets.words import build
from omniret.index import Index

KS = (1, 5, 10)
FETCH = 50  # hits read per query (units are deduplicated from them)
RERANK_TOP = 20  # second-stage depth here (the CLI's default is 100): every candidate is recomputed
MODES = {"dense": ("dense", None), "keyword": ("keyword", None), "hybrid": ("hybrid", None),
         "hybrid+rerank": ("hybrid", RERANK_TOP)}  # fmt: skip
UNITS = {"speech": ("asset", "moment"), "subtitles": ("asset", "moment"), "pdf": ("asset", "page")}


def unit_of(hit, kind: str):
    """The unit a hit counts for (None: it counts for none of that kind)."""
    name = hit.uri.rsplit("/", 1)[-1]
    if kind == "asset":
        return name
    if kind == "page":
        return (name, hit.page) if hit.page is not None else None
    if hit.segment_id == "whole" or hit.t0 is None:
        return None
    return (name, hit.segment_id)


def relevant(query: dict, unit, kind: str) -> bool:
    if unit is None:
        return False
    if kind == "asset":
        return unit == query["file"]
    if kind == "page":
        return unit == (query["file"], query["page"])
    name, segment = unit
    t0, t1 = (float(x) for x in segment.split("-"))
    return name == query["file"] and min(t1, query["t1"]) - max(t0, query["t0"]) > 0


def first_relevant_rank(hits, query: dict, kind: str) -> int | None:
    """1-based rank of the first relevant unit among the distinct units of ``hits`` (None: not found)."""
    seen = []
    for h in hits:
        unit = unit_of(h, kind)
        if unit is None or unit in seen:
            continue
        seen.append(unit)
        if relevant(query, unit, kind):
            return len(seen)
    return None


def metrics(ranks: list[int | None]) -> dict:
    n = max(len(ranks), 1)
    out = {f"R@{k}": sum(r is not None and r <= k for r in ranks) / n for k in KS}
    out["MRR@10"] = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n
    return out


def evaluate_collection(root: Path, name: str, *, model: str | None = None) -> dict:
    """Index ``root/media`` into ``root/db`` (kept: a re-run only searches) and score every mode."""
    queries = json.loads((root / "queries.json").read_text())
    ix = Index(root / "db", model=model)
    started = time.perf_counter()
    report = ix.add([root / "media"], transcripts="on" if name == "speech" else "auto")
    index_seconds = time.perf_counter() - started
    table = {}
    for label, (mode, rerank) in MODES.items():
        ranks = {kind: [] for kind in UNITS[name]}
        started = time.perf_counter()
        for q in queries:
            hits = ix.search(q["query"], k=FETCH, mode=mode, rerank=rerank).hits
            for kind in UNITS[name]:
                ranks[kind].append(first_relevant_rank(hits, q, kind))
        seconds = (time.perf_counter() - started) / max(len(queries), 1)
        table[label] = {kind: metrics(r) for kind, r in ranks.items()} | {"ms_per_query": 1000 * seconds}
    return {"queries": len(queries), "files": len(report.added) + len(report.replaced) + report.unchanged,
            "skipped": report.skipped, "index_seconds": index_seconds, "modes": table}  # fmt: skip


def run(work: Path, *, model: str | None = None) -> dict:
    """Build the collections under ``work`` (once) and evaluate them; the feature cache is ``work/cache``
    so the second stage reuses the tower features computed while indexing."""
    os.environ.setdefault("OMNIRET_CACHE_DIR", str(work / "cache"))
    roots = (
        {n: work / n for n in UNITS}
        if all((work / n / "queries.json").exists() for n in UNITS)
        else build(work)
    )
    return {name: evaluate_collection(root, name, model=model) for name, root in roots.items()}


def markdown(results: dict) -> str:
    """One table per collection: modes as rows, Recall@k and MRR per unit as columns."""
    lines = []
    for name, res in results.items():
        kinds = UNITS[name]
        lines += [f"**{name}** ({res['queries']} queries, {res['files']} files, indexed in "
                  f"{res['index_seconds']:.0f} s)", "",
                  "| mode | " + " | ".join(f"{k} R@1 | {k} R@5 | {k} R@10 | {k} MRR@10" for k in kinds) + " | ms/query |",
                  "|---|" + "---|" * (4 * len(kinds) + 1)]  # fmt: skip
        for label, row in res["modes"].items():
            cells = [f"{row[k][m]:.3f}" for k in kinds for m in ("R@1", "R@5", "R@10", "MRR@10")]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {row['ms_per_query']:.0f} |")
        lines.append("")
    return "\n".join(lines)
