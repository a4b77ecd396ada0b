"""Writing evaluation results: JSON with provenance, TREC runs, a markdown table and a bar chart."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from omniret.eval.harness import TaskResult, group_means
from omniret.eval.mbeir import file_hash


def model_record(model) -> dict:
    rec = {
        "id": model.model_id,
        "weights_hash": model.weights_hash,
        "recipes": model.recipes,
        "precision": getattr(model, "precision", "fp32"),
    }  # heads' inference precision (bf16 autocast or fp32)
    inner = getattr(model, "model", None) or getattr(getattr(model, "base", None), "model", None)
    if inner is not None and hasattr(inner, "config"):
        from omniret.config import to_dict

        rec["config"] = to_dict(inner.config)
    return rec


def results_record(model, results: list[TaskResult], *, ks: list[int], split: str) -> dict:
    files = sorted({p for r in results for p in r.files})
    return {
        "model": model_record(model),
        "split": split,
        "ks": ks,
        "command": " ".join(sys.argv),
        "data_files": {str(p): file_hash(Path(p)) for p in files},
        "tasks": {
            r.name: {
                "group": r.group,
                "n_queries": r.n_queries,
                "n_candidates": r.n_candidates,
                "metrics": r.metrics,
                "skipped_queries": [{"qid": q, "reason": why} for q, why in r.skipped_queries],
                "skipped_candidates": [{"did": d, "reason": why} for d, why in r.skipped_candidates],
            }
            for r in results
        },
        "groups": group_means(results),
    }


def write_trec(results: list[TaskResult], path: Path, tag: str) -> None:
    """Standard TREC run lines: ``qid Q0 did rank score tag`` (top 100 per query)."""
    tag = re.sub(r"\s+", "_", tag)
    with path.open("w") as f:
        for r in results:
            for qid, ranked in r.run:
                for rank, (did, score) in enumerate(ranked, 1):
                    f.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")


def markdown_table(records: list[dict], *, metric: str) -> str:
    """Tasks as rows, models as columns."""
    models = [r["model"]["id"] for r in records]
    tasks = list(records[0]["tasks"])
    head = (
        f"| task | group | queries | pool | {' | '.join(models)} |\n|---|---|---|---|{'---|' * len(models)}\n"
    )
    rows = []
    for t in tasks:
        first = records[0]["tasks"][t]
        vals = [r["tasks"].get(t, {}).get("metrics", {}).get(metric) for r in records]
        best = max((v for v in vals if v is not None), default=None)
        cells = [("—" if v is None else (f"**{100 * v:.1f}**" if v == best and len(vals) > 1 else f"{100 * v:.1f}"))
                 for v in vals]  # fmt: skip
        rows.append(
            f"| {t} | {first['group']} | {first['n_queries']} | {first['n_candidates']} | {' | '.join(cells)} |"
        )
    means = [sum(r["tasks"][t]["metrics"][metric] for t in tasks) / len(tasks) for r in records]
    rows.append(f"| **mean** | | | | {' | '.join(f'{100 * m:.1f}' for m in means)} |")
    return head + "\n".join(rows) + "\n"


def write_report(records: list[dict], path: Path, *, metric: str) -> Path:
    """Markdown (``path``) plus a grouped bar chart (same name, .png)."""
    text = f"# Evaluation report\n\n{metric} (%), bold = best per task.\n\n" + markdown_table(
        records, metric=metric
    )
    text += "\nMRR (%):\n\n" + markdown_table(records, metric="mrr")
    png = path.with_suffix(".png")
    bar_chart(records, png, metric=metric)
    text += f"\n![{metric} per task]({png.name})\n"
    path.write_text(text)
    return png


def bar_chart(records: list[dict], path: Path, *, metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = list(records[0]["tasks"])
    width = 0.8 / len(records)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(tasks)), 4))
    x = np.arange(len(tasks))
    for i, r in enumerate(records):
        vals = [100 * r["tasks"].get(t, {}).get("metrics", {}).get(metric, 0.0) for t in tasks]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=r["model"]["id"])
    ax.set_xticks(x, tasks, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric} (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_json(record, path: Path) -> None:
    path.write_text(json.dumps(record, indent=2) + "\n")
