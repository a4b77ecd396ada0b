"""Writing benchmarks in the M-BEIR layout (the same files `omniret eval mbeir` reads)."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def write_task(root: Path, name: str, split: str, queries: list[dict], pool: list[dict]) -> None:
    """queries: qid, query_modality, pos_cand_list, query_txt/query_*_path; pool: did, modality, txt/*_path."""
    write_jsonl(root / "query" / split / f"mbeir_{name}_{split}.jsonl", queries)
    write_jsonl(root / "cand_pool" / "local" / f"mbeir_{name}_cand_pool.jsonl", pool)


def write_instructions(root: Path, rows: list[dict]) -> None:
    """rows: query_modality, cand_modality, dataset_name, dataset_id, prompts (list of 1-4 strings)."""
    path = root / "instructions" / "query_instructions.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["query_modality", "cand_modality", "dataset_name", "dataset_id", "prompt_1", "prompt_2", "prompt_3",
              "prompt_4"]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, delimiter="\t")
        w.writeheader()
        for r in rows:
            prompts = list(r["prompts"]) + [""] * (4 - len(r["prompts"]))
            w.writerow(
                {**{k: r[k] for k in fields[:4]}, **{f"prompt_{i + 1}": p for i, p in enumerate(prompts)}}
            )
