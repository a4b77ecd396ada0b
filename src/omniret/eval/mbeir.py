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

Every row is checked as it is read (``BenchmarkFormatError`` naming the file, the line and the field):
ids are strings or integers and unique within a file; modalities are comma-separated names among
text, image, audio and video, each with its field filled in; content fields are strings or null;
list fields (``pos_cand_list``, ``neg_cand_list``) are JSON lists (a string is never read character
by character); every positive is in the query file's own pool; a file holds at least one row.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from omniret.errors import InputError
from omniret.inputs import OmniInput
from omniret.inputs.modality import MODALITY_NAMES
from omniret.jsonl import read_jsonl

SHORT = {"text": "T", "image": "I", "audio": "A", "video": "V"}


class BenchmarkFormatError(InputError):
    """A benchmark file is malformed; the message names the file and line."""


class BenchmarkNotFoundError(BenchmarkFormatError, FileNotFoundError):
    """A file or directory the M-BEIR layout needs is missing."""


MODALITIES = MODALITY_NAMES
QUERY_FIELDS = {"text": "query_txt", "image": "query_img_path", "audio": "query_audio_path",
                "video": "query_video_path"}  # fmt: skip
CAND_FIELDS = {"text": "txt", "image": "img_path", "audio": "audio_path", "video": "video_path"}
LIST_FIELDS = ("pos_cand_list", "neg_cand_list")


@dataclass(kw_only=True)
class MediaFields:
    """The content fields an M-BEIR query and candidate share (paths relative to the benchmark root)."""

    txt: str | None = None
    img_path: str | None = None
    audio_path: str | None = None
    video_path: str | None = None


@dataclass
class Candidate(MediaFields):
    did: str
    modality: str


@dataclass
class Query(MediaFields):
    qid: str
    modality: str
    pos_cand_list: list[str]
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


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    """(line number, object) per non-blank line, each with the ``required`` fields."""
    rows = list(
        read_jsonl(path, error=BenchmarkFormatError, not_found=BenchmarkNotFoundError, required=required)
    )
    if not rows:
        raise BenchmarkFormatError(f"{path}: empty (no JSON lines)")
    return rows


def _brief(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _id(row: dict, key: str, where: str) -> str:
    value = row[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, (str, int))
        or (isinstance(value, str) and not value.strip())
    ):
        raise BenchmarkFormatError(
            f"{where}: {key} must be a non-empty string or an integer, got {_brief(value)}"
        )
    return str(value)


def _modality(row: dict, key: str, where: str) -> str:
    value = row[key]
    parts = value.split(",") if isinstance(value, str) else None
    if not parts or any(p.strip() not in MODALITIES for p in parts):
        raise BenchmarkFormatError(
            f"{where}: {key} must be comma-separated names among {', '.join(MODALITIES)}, got {_brief(value)}"
        )
    return value


def _content(row: dict, fields: dict[str, str], modality: str, where: str) -> dict[str, str | None]:
    """The content fields as strings or None (null and blank strings are None); each modality the row
    declares must have its field, and a row needs some content."""
    out = {}
    for name in fields.values():
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            raise BenchmarkFormatError(f"{where}: {name} must be a string or null, got {_brief(value)}")
        out[name] = value if value and value.strip() else None
    for part in modality.split(","):
        if out[fields[part.strip()]] is None:
            raise BenchmarkFormatError(f"{where}: modality {modality!r} but {fields[part.strip()]} is empty")
    return out


def _id_list(row: dict, key: str, where: str) -> list[str]:
    value = row.get(key, [])
    if not isinstance(value, list):
        raise BenchmarkFormatError(f"{where}: {key} must be a JSON list of ids, got {_brief(value)}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise BenchmarkFormatError(f"{where}: {key} holds {_brief(item)}, expected string or integer ids")
    return [str(item) for item in value]


def read_instructions(root: Path) -> dict[tuple[str, str, str], list[str]]:
    """(dataset_id, query modality, candidate modality) -> prompts, from query_instructions.tsv if present."""
    path = root / "instructions" / "query_instructions.tsv"
    if not path.is_file():
        return {}
    return {
        (row["dataset_id"].strip(), row["query_modality"].strip(), row["cand_modality"].strip()): prompts
        for _, row, prompts in instruction_rows(path, key="dataset_id", error=BenchmarkFormatError)
    }


def instruction_rows(path: Path, *, key: str, error: type[Exception]) -> list[tuple[int, dict, list[str]]]:
    """(line, row, prompts) of an M-BEIR instructions TSV whose header has ``query_modality``,
    ``cand_modality`` and ``key``; prompts are the non-empty ``prompt*`` columns in column order.
    Every problem is ``error`` naming the file (and line)."""
    need = ("query_modality", "cand_modality", key)
    out = []
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            if not reader.fieldnames or not set(need) <= set(reader.fieldnames):
                raise error(f"{path}:1: the header must include {', '.join(sorted(need))}")
            for row in reader:
                n = reader.line_num
                if any(row.get(k) is None for k in need):
                    missing = ", ".join(k for k in need if row.get(k) is None)
                    raise error(
                        f"{path}:{n}: missing column(s) {missing} (the row has fewer columns than the header)"
                    )
                prompts = [
                    row[k].strip()
                    for k in sorted(k for k in row if isinstance(k, str))
                    if k.startswith("prompt") and isinstance(row[k], str) and row[k].strip()
                ]
                out.append((n, row, prompts))
    except FileNotFoundError:
        raise error(f"instructions file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text (byte {err.start})") from None
    except (OSError, csv.Error) as err:
        raise error(f"{path}: not a readable TSV file ({err})") from None
    return out


def find_tasks(root: Path, split: str = "test", pattern: str = "*") -> list[tuple[str, Path, Path]]:
    qdir = root / "query" / split
    if not qdir.is_dir():
        raise BenchmarkNotFoundError(f"{qdir} not found: expected an M-BEIR layout under {root}")
    found = []
    for qfile in sorted(qdir.glob(f"mbeir_*_{split}.jsonl")):
        name = qfile.name[len("mbeir_") : -len(f"_{split}.jsonl")]
        if not fnmatch.fnmatch(name, pattern):
            continue
        pool = root / "cand_pool" / "local" / f"mbeir_{name}_cand_pool.jsonl"
        if not pool.is_file():
            raise BenchmarkNotFoundError(f"{qfile}: its candidate pool {pool} is missing")
        found.append((name, qfile, pool))
    if not found:
        raise BenchmarkNotFoundError(f"no query files match mbeir_{pattern}_{split}.jsonl in {qdir}")
    return found


def _unique_id(row: dict, key: str, where: str, seen: dict[str, int], line: int) -> str:
    """The row's id under ``key``, refused when an earlier line of the file (``seen``: id -> line) had it."""
    value = _id(row, key, where)
    if value in seen:
        raise BenchmarkFormatError(f"{where}: {key} {value!r} repeats line {seen[value]}")
    seen[value] = line
    return value


def read_pool(pfile: Path) -> list[Candidate]:
    out, seen = [], {}
    for n, row in _read_jsonl(pfile, ("did", "modality")):
        where = f"{pfile}:{n}"
        did = _unique_id(row, "did", where, seen, n)
        modality = _modality(row, "modality", where)
        c = _content(row, CAND_FIELDS, modality, where)
        out.append(Candidate(did=did, modality=modality, txt=c["txt"], img_path=c["img_path"],
                             audio_path=c["audio_path"], video_path=c["video_path"]))  # fmt: skip
    return out


def read_queries(qfile: Path) -> list[Query]:
    out, seen = [], {}
    for n, row in _read_jsonl(qfile, ("qid", "query_modality", "pos_cand_list")):
        where = f"{qfile}:{n}"
        qid = _unique_id(row, "qid", where, seen, n)
        modality = _modality(row, "query_modality", where)
        c = _content(row, QUERY_FIELDS, modality, where)
        positives = _id_list(row, "pos_cand_list", where)
        if not positives:
            raise BenchmarkFormatError(f"{where}: pos_cand_list is empty (a query needs a positive)")
        for key in LIST_FIELDS[1:]:
            _id_list(row, key, where)
        out.append(Query(qid=qid, modality=modality, pos_cand_list=positives, txt=c["query_txt"],
                         img_path=c["query_img_path"], audio_path=c["query_audio_path"],
                         video_path=c["query_video_path"]))  # fmt: skip
    return out


def load_task(name: str, qfile: Path, pfile: Path, instructions: dict) -> Task:
    pool = read_pool(pfile)  # the pool first, as before: format errors name the same file
    task = Task(name=name, query_file=qfile, pool_file=pfile, queries=read_queries(qfile), pool=pool)
    dids = {c.did for c in pool}
    for q in task.queries:
        absent = [did for did in q.pos_cand_list if did not in dids]
        if absent:
            raise BenchmarkFormatError(
                f"{qfile}: positive {absent[0]!r} of query {q.qid!r} is not in its pool {pfile}"
            )
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
