"""Writing evaluation results: JSON with provenance, TREC runs, a markdown table and a bar chart."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from omniret.config import to_dict
from omniret.eval.harness import TaskResult, group_means, task_means
from omniret.eval.mbeir import file_hash
from omniret.eval.metrics import modality_ks


def model_record(model) -> dict:
    rec = {
        "id": model.model_id,
        "weights_hash": model.weights_hash,
        "recipes": model.recipes,
        "precision": getattr(model, "precision", "fp32"),
    }  # heads' inference precision (bf16 autocast or fp32)
    inner = getattr(model, "model", None) or getattr(getattr(model, "base", None), "model", None)
    if inner is not None and hasattr(inner, "config"):
        rec["config"] = to_dict(inner.config)
    return rec


def results_record(model, results: list[TaskResult], *, ks: list[int], split: str,
                   global_results: list[TaskResult] | None = None, global_pool=None,
                   geometry: dict | None = None) -> dict:  # fmt: skip
    """One model's record. ``tasks``/``groups``/``mean`` are the local pools (the original keys);
    the global pool, when scored, is a ``global`` section of the same shape; ``geometry`` when asked."""
    global_results = global_results or []
    files = sorted({p for r in [*results, *global_results] for p in r.files})
    rec = {
        "model": model_record(model),
        "split": split,
        "ks": ks,
        "modality_ks": modality_ks(ks),
        "pools": (["local"] if results else []) + (["global"] if global_pool is not None else []),
        "command": " ".join(sys.argv),
        "data_files": {str(p): file_hash(Path(p)) for p in files},
    }
    if results:
        rec.update(_section(results))
    if global_pool is not None:
        skipped = sorted({c for r in global_results for c in r.skipped_candidates})
        rec["global"] = {
            "pool": "global",
            "source": global_pool.source,
            "files": [str(f) for f in global_pool.files],
            "n_candidates": len(global_pool.candidates) - len(skipped),
            "skipped_candidates": [{"did": d, "reason": why} for d, why in skipped],
            **_section(global_results, with_candidates=False),
        }
    if geometry is not None:
        rec["geometry"] = geometry
    return rec


def _section(results: list[TaskResult], *, with_candidates: bool = True) -> dict:
    """Per-task entries, group means and the mean over tasks of one pool setting."""
    tasks = {}
    for r in results:
        entry = {"pool": r.pool, "group": r.group, "modality": r.modality, "n_queries": r.n_queries,
                 "n_candidates": r.n_candidates, "metrics": r.metrics,
                 "skipped_queries": [{"qid": q, "reason": why} for q, why in r.skipped_queries]}  # fmt: skip
        if with_candidates:  # in the global pool these are the union's, listed once for the section
            entry["skipped_candidates"] = [{"did": d, "reason": why} for d, why in r.skipped_candidates]
        tasks[r.name] = entry
    return {"tasks": tasks, "groups": group_means(results), "mean": task_means(results)}


def write_trec(results: list[TaskResult], path: Path, tag: str) -> None:
    """Standard TREC run lines: ``qid Q0 did rank score tag`` (top 100 per query)."""
    tag = re.sub(r"\s+", "_", tag)
    with path.open("w") as f:
        for r in results:
            for qid, ranked in r.run:
                for rank, (did, score) in enumerate(ranked, 1):
                    f.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")


def pool_section(record: dict, pool: str) -> dict | None:
    """The tasks/groups/mean of one pool setting: the record itself for 'local', its 'global' key."""
    if pool == "local":
        return record if "tasks" in record else None
    return record.get(pool)


def markdown_table(records: list[dict], *, metric: str, pool: str = "local") -> str:
    """Tasks as rows, models as columns; 'pool' is each task's pool size in that setting."""
    sections = [pool_section(r, pool) or {"tasks": {}} for r in records]
    models = [r["model"]["id"] for r in records]
    tasks = list(next(s for s in sections if s["tasks"])["tasks"])
    head = (
        f"| task | group | queries | pool | {' | '.join(models)} |\n|---|---|---|---|{'---|' * len(models)}\n"
    )
    rows = []
    for t in tasks:
        first = next(s["tasks"][t] for s in sections if t in s["tasks"])
        vals = [s["tasks"].get(t, {}).get("metrics", {}).get(metric) for s in sections]
        best = max((v for v in vals if v is not None), default=None)
        cells = [("—" if v is None else (f"**{100 * v:.1f}**" if v == best and len(vals) > 1 else f"{100 * v:.1f}"))
                 for v in vals]  # fmt: skip
        rows.append(
            f"| {t} | {first['group']} | {first['n_queries']} | {first['n_candidates']} | {' | '.join(cells)} |"
        )
    means = [
        _mean([s["tasks"][t]["metrics"].get(metric) for t in tasks if t in s["tasks"]]) for s in sections
    ]
    rows.append(f"| **mean** | | | | {' | '.join('—' if m is None else f'{100 * m:.1f}' for m in means)} |")
    return head + "\n".join(rows) + "\n"


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


POOL_TITLES = {
    "local": "Local pools (each task against its own pool)",
    "global": "Global pool (every task against the union of the split's pools)",
}


def write_report(records: list[dict], path: Path, *, metric: str) -> Path:
    """Markdown (``path``) plus a grouped bar chart (same name, .png) of ``metric``.

    One part per pool setting scored (recall, MRR, modality precision), then the geometry tables.
    """
    pools = [p for p in ("local", "global") if any(pool_section(r, p) for r in records)]
    mks = records[0].get("modality_ks", [5])
    text = "# Evaluation report\n\n" + means_table(records, pools=pools)
    for pool in pools:
        text += f"\n## {POOL_TITLES[pool]}\n\n{metric} (%), bold = best per task.\n\n"
        text += markdown_table(records, metric=metric, pool=pool)
        text += "\nMRR (%):\n\n" + markdown_table(records, metric="mrr", pool=pool)
        for k in mks:
            text += (f"\nModality precision@{k} (%): share of the top {k} hits in the task's candidate "
                     f"modality.\n\n") + markdown_table(records, metric=f"modality_precision@{k}", pool=pool)  # fmt: skip
    geometry = [(r["model"]["id"], r["geometry"]) for r in records if r.get("geometry")]
    if geometry:
        text += "\n" + geometry_tables(geometry)
    png = path.with_suffix(".png")
    bar_chart(records, png, metric=metric, pool=pools[0])
    text += f"\n![{metric} per task, {pools[0]} pool]({png.name})\n"
    path.write_text(text)
    return png


def means_table(records: list[dict], *, pools: list[str]) -> str:
    """Every metric averaged over tasks, one row per model and pool: the local-to-global drop at a glance."""
    keys = list(next(iter(pool_section(records[0], pools[0])["tasks"].values()))["metrics"])
    text = f"Means over tasks (%):\n\n| model | pool | {' | '.join(keys)} |\n|---|---|{'---|' * len(keys)}\n"
    for r in records:
        for pool in pools:
            mean = (pool_section(r, pool) or {}).get("mean", {})
            cells = " | ".join("—" if k not in mean else f"{100 * mean[k]:.1f}" for k in keys)
            text += f"| {r['model']['id']} | {pool} | {cells} |\n"
    return text


def geometry_tables(geometry: list[tuple[str, dict]]) -> str:
    """Cone width per modality, centroid gaps and hubness, one block per model."""
    text = "## Embedding geometry (global pool)\n"
    text += "\n| model | max N_10 | queries with the hub in their top 10 | N_10 skewness | hub (modality) |\n"
    text += "|---|---|---|---|---|\n"
    for model, g in geometry:
        h = g["hubness"]
        text += (f"| {model} | {h['max_k_occurrence']} | {100 * h['hub_share']:.1f} % | {h['skewness']:.2f} | "
                 f"{h['hub_did']} ({h['hub_modality']}) |\n")  # fmt: skip
    for model, g in geometry:
        text += f"\n### {model}\n\n| group | n | sampled | mean pairwise cosine |\n|---|---|---|---|\n"
        for name, m in g["modalities"].items():
            text += f"| {name} | {m['n']} | {m['n_sampled']} | {_num(m['mean_pairwise_cosine'])} |\n"
        text += "\n| centroid | centroid | cosine | euclidean |\n|---|---|---|---|\n"
        for gap in g["centroid_gaps"]:
            text += f"| {gap['a']} | {gap['b']} | {_num(gap['cosine'])} | {_num(gap['euclidean'])} |\n"
    return text


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def bar_chart(records: list[dict], path: Path, *, metric: str, pool: str = "local") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    sections = [pool_section(r, pool) or {"tasks": {}} for r in records]
    tasks = list(next(s for s in sections if s["tasks"])["tasks"])
    width = 0.8 / len(records)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(tasks)), 4))
    x = np.arange(len(tasks))
    for i, (r, sec) in enumerate(zip(records, sections, strict=True)):
        vals = [100 * sec["tasks"].get(t, {}).get("metrics", {}).get(metric, 0.0) for t in tasks]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=r["model"]["id"])
    ax.set_xticks(x, tasks, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric} (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_json(record, path: Path) -> None:
    path.write_text(json.dumps(record, indent=2) + "\n")
