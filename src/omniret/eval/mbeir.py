"""Reading the M-BEIR file layout (UniIR), extended with audio and video fields.

    ROOT/query/{split}/mbeir_{task}_{split}.jsonl      qid, query_txt, query_img_path, query_modality,
                                                       pos_cand_list, task_id, [query_audio_path, query_video_path]
    ROOT/cand_pool/local/mbeir_{task}_cand_pool.jsonl  did, txt, img_path, modality, [audio_path, video_path]
    ROOT/instructions/query_instructions.tsv           query_modality, cand_modality, dataset_name, dataset_id,
                                                       prompt_1..prompt_4
    ROOT/cand_pool/global/mbeir_union_{split}_cand_pool.jsonl   optional: the global pool (global_pool.py)

Each query file is scored against the pool of the same name (MMEB-V2 / OmniRet protocol), and/or
against the union of all pools of the split (UniIR's global setting, global_pool.py). The
inference instruction is the first prompt of the (dataset_id, query modality, candidate modality) row.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from omniret.errors import InputError
from omniret.inputs import OmniInput

SHORT = {"text": "T", "image": "I", "audio": "A", "video": "V"}


class BenchmarkFormatError(InputError):
    """A benchmark file is malformed; the message names the file and line."""


@dataclass
class Candidate:
    did: str
    modality: str
    txt: str | None = None
    img_path: str | None = None
    audio_path: str | None = None
    video_path: str | None = None


@dataclass
class Query:
    qid: str
    modality: str
    pos_cand_list: list[str]
    txt: str | None = None
    img_path: str | None = None
    audio_path: str | None = None
    video_path: str | None = None
    instruction: str | None = None


@dataclass
class Task:
    name: str
    query_file: Path
    pool_file: Path
    queries: list[Query] = field(default_factory=list)
    pool: list[Candidate] = field(default_factory=list)

    @property
    def group(self) -> str:
        """Modality signature such as 'T→I' or '(A,T)→A'."""
        q = self.queries[0].modality if self.queries else "?"
        c = _pos_modality(self) or "?"
        return f"{_short(q)}→{_short(c)}"

    @property
    def cand_modality(self) -> str | None:
        """What a right answer looks like: the modality of the positives, else the pool's commonest.

        Modality precision compares hits against this full string ('image,text' is its own modality).
        """
        found = _pos_modality(self)
        if found is not None or not self.pool:
            return found
        return Counter(c.modality for c in self.pool).most_common(1)[0][0]


def _short(modality: str) -> str:
    parts = sorted(SHORT.get(m.strip(), m.strip()) for m in modality.split(","))
    return parts[0] if len(parts) == 1 else f"({','.join(parts)})"


def _pos_modality(task: Task) -> str | None:
    by_id = {c.did: c for c in task.pool}
    for q in task.queries:
        for did in q.pos_cand_list:
            if did in by_id:
                return by_id[did].modality
    return None


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise BenchmarkFormatError(f"{path}:{n}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise BenchmarkFormatError(f"{path}:{n}: expected a JSON object")
            missing = [k for k in required if k not in row]
            if missing:
                raise BenchmarkFormatError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
            rows.append(row)
    return rows


def read_instructions(root: Path) -> dict[tuple[str, str, str], list[str]]:
    """(dataset_id, query modality, candidate modality) -> prompts, from query_instructions.tsv if present."""
    path = root / "instructions" / "query_instructions.tsv"
    if not path.is_file():
        return {}
    out = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        need = {"query_modality", "cand_modality", "dataset_id"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise BenchmarkFormatError(f"{path}:1: header must include {', '.join(sorted(need))}")
        for row in reader:
            prompts = [
                row[k].strip()
                for k in sorted(row)
                if k and k.startswith("prompt") and row[k] and row[k].strip()
            ]
            out[(row["dataset_id"].strip(), row["query_modality"].strip(), row["cand_modality"].strip())] = (
                prompts
            )
    return out


def find_tasks(root: Path, split: str = "test", pattern: str = "*") -> list[tuple[str, Path, Path]]:
    qdir = root / "query" / split
    if not qdir.is_dir():
        raise FileNotFoundError(f"{qdir} not found: expected an M-BEIR layout under {root}")
    found = []
    for qfile in sorted(qdir.glob(f"mbeir_*_{split}.jsonl")):
        name = qfile.name[len("mbeir_") : -len(f"_{split}.jsonl")]
        if not fnmatch.fnmatch(name, pattern):
            continue
        pool = root / "cand_pool" / "local" / f"mbeir_{name}_cand_pool.jsonl"
        if not pool.is_file():
            raise FileNotFoundError(f"{qfile}: its candidate pool {pool} is missing")
        found.append((name, qfile, pool))
    if not found:
        raise FileNotFoundError(f"no query files match mbeir_{pattern}_{split}.jsonl in {qdir}")
    return found


def read_pool(pfile: Path) -> list[Candidate]:
    return [Candidate(did=str(row["did"]), modality=row["modality"], txt=row.get("txt") or None,
                      img_path=row.get("img_path") or None, audio_path=row.get("audio_path") or None,
                      video_path=row.get("video_path") or None)
            for row in _read_jsonl(pfile, ("did", "modality"))]  # fmt: skip


def read_queries(qfile: Path) -> list[Query]:
    return [Query(qid=str(row["qid"]), modality=row["query_modality"],
                  pos_cand_list=[str(p) for p in row["pos_cand_list"]], txt=row.get("query_txt") or None,
                  img_path=row.get("query_img_path") or None, audio_path=row.get("query_audio_path") or None,
                  video_path=row.get("query_video_path") or None)
            for row in _read_jsonl(qfile, ("qid", "query_modality", "pos_cand_list"))]  # fmt: skip


def load_task(name: str, qfile: Path, pfile: Path, instructions: dict) -> Task:
    pool = read_pool(pfile)  # the pool first, as before: format errors name the same file
    task = Task(name=name, query_file=qfile, pool_file=pfile, queries=read_queries(qfile), pool=pool)
    cand_modality = _pos_modality(task)
    for q in task.queries:
        dataset_id = q.qid.split(":", 1)[0]
        prompts = instructions.get((dataset_id, q.modality, cand_modality or ""), [])
        q.instruction = prompts[0] if prompts else None
    return task


def load_tasks(root: str | Path, split: str = "test", pattern: str = "*") -> list[Task]:
    root = Path(root)
    instructions = read_instructions(root)
    return [load_task(n, q, p, instructions) for n, q, p in find_tasks(root, split, pattern)]


def query_input(root: Path, q: Query) -> OmniInput:
    return OmniInput(text=q.txt, image=_path(root, q.img_path), audio=_path(root, q.audio_path),
                     video=_path(root, q.video_path), instruction=q.instruction)  # fmt: skip


def candidate_input(root: Path, c: Candidate) -> OmniInput:
    return OmniInput(text=c.txt, image=_path(root, c.img_path), audio=_path(root, c.audio_path),
                     video=_path(root, c.video_path))  # fmt: skip


def _path(root: Path, rel: str | None) -> Path | None:
    return None if rel is None else root / rel


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
