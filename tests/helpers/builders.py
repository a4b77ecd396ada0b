"""Builders shared by several test modules: a training run config, an M-BEIR layout, an index
with known rows, refusal checks, paths of packaged real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from omniret.datasets.writer import write_instructions, write_task
from omniret.index.store import Store, schema
from omniret.train.config import load_train_config
from omniret.train.data import Pair


def config(tmp_path, dataset, out="run", **extra):
    root, model_yaml = dataset
    data = {"model": str(model_yaml), "steps": 6, "out": str(tmp_path / out), "save_every": 100, "seed": 3,
            "data": {"pairs": [str(root / "train" / "pairs.jsonl")], "tasks_per_batch": 2, "pairs_per_task": 4},
            "optim": {"lr": 3e-3, "warmup_steps": 1}}  # fmt: skip
    for k, v in extra.items():
        data[k] = v
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_train_config(path)


def mbeir_fixture(root: Path, *, instructions: bool = True) -> Path:
    pool = [{"did": f"9:{i}", "modality": "text", "txt": f"v{i}"} for i in range(4)]
    queries = [
        {
            "qid": "9:100",
            "query_modality": "text",
            "query_txt": "v0",
            "pos_cand_list": ["9:1"],
        },  # ranks 0,1,...: 2nd
        {"qid": "9:101", "query_modality": "text", "query_txt": "v3", "pos_cand_list": ["9:3"]},  # 1st
        {
            "qid": "9:102",
            "query_modality": "text",
            "query_txt": "v2",
            "pos_cand_list": ["9:0", "9:3"],
        },  # v0 3rd
    ]
    write_task(root, "toy_task0", "test", queries, pool)
    images = [{"did": "5:0", "modality": "image", "img_path": "media/v0.png"},
              {"did": "5:1", "modality": "image", "img_path": "media/missing.png"}]  # fmt: skip
    (root / "media").mkdir(exist_ok=True)
    (root / "media" / "v0.png").write_bytes(b"x")
    iq = [{"qid": "5:1", "query_modality": "text", "query_txt": "v0", "pos_cand_list": ["5:0"]},
          {"qid": "5:2", "query_modality": "image", "query_img_path": "media/gone.png", "pos_cand_list": ["5:0"]}]  # fmt: skip
    write_task(root, "toy_task1", "test", iq, images)
    if instructions:
        write_instructions(root, [{"query_modality": "text", "cand_modality": "text", "dataset_name": "Toy",
                                   "dataset_id": "9", "prompts": ["Find the text.", "Other prompt."]}])  # fmt: skip
    return root


def make_db(path) -> Store:
    import pyarrow as pa

    store = Store(path)
    store.write_sidecar({"model_id": "synthetic", "weights_hash": "w1", "recipe_hash": "0", "dim": 2})
    x = np.asarray([v for *_, v in ROWS], np.float32)
    cols = {f.name: pa.nulls(len(ROWS), f.type) for f in schema(2)}
    ids = pa.array([u for u, *_ in ROWS])
    cols.update(uri=ids, asset_id=ids, segment_id=pa.array(["whole"] * len(ROWS)),
                modality=pa.array([m for _, m, _ in ROWS]),
                vector=pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 2))  # fmt: skip
    store.table(2).add(pa.table(cols, schema=schema(2)))
    return store


def refused(out, code: int, *words: str) -> str:
    """The command failed with ``code`` and one `omniret: error:` line naming every word; no traceback."""
    lines = [ln for ln in out.output.splitlines() if ln.strip()]
    assert out.exit_code == code, out.output
    assert len(lines) == 1 and lines[0].startswith("omniret: error: "), out.output
    assert "Traceback" not in out.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def uris(path) -> list[str]:
    return sorted(Store(path).table().to_arrow()["uri"].to_pylist())


ASTERISK = Path("/usr/share/asterisk/sounds/en")


def skimage_photo(name: str) -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / name


def clustered_store(path, n: int = 3000, dim: int = 32):
    import pyarrow as pa

    from omniret.index.store import Store, schema

    store = Store(path)
    store.write_sidecar({"model_id": "synthetic", "weights_hash": "0", "recipe_hash": "0", "dim": dim})
    table = store.table(dim)
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, dim))
    x = centers[rng.integers(20, size=n)] + 0.3 * rng.normal(size=(n, dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    cols = {f.name: pa.nulls(len(x), f.type) for f in schema(dim)}
    cols["uri"] = pa.array([f"v{i}" for i in range(len(x))])
    cols["modality"] = pa.array(["image"] * len(x))
    cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim)
    table.add(pa.table(cols, schema=schema(dim)))
    return store, table, x, rng


ROWS = [("a1", "image", (1.0, 0.0)), ("a2", "image", (0.0, 1.0)), ("t1", "text", (0.8, 0.6)),
        ("t2", "text", (-1.0, 0.0))]  # fmt: skip


def swatch_pairs(root: Path, colours: dict, *, dataset: str, shades: int, step: int) -> list[dict]:
    """``shades`` 32-px swatches per colour (each ``step`` darker) under ``root/img``, as TI and IT pairs."""
    from PIL import Image

    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for name, rgb in colours.items():
        for k in range(shades):
            rel = f"img/{name}{k}.png"
            Image.new("RGB", (32, 32), tuple(max(0, c - step * k) for c in rgb)).save(root / rel)
            for task, query, positive in (
                ("TI", {"text": name}, {"image": rel}),
                ("IT", {"image": rel}, {"text": name}),
            ):
                rows.append(
                    {"dataset": dataset, "task": task, "query": query, "positive": positive, "id": name}
                )
    return rows


def pairs_both_ways(n: int) -> list[Pair]:
    """``n`` items, each as a text -> image and an image -> text pair sharing the item's id."""
    return [
        Pair("d", t, {"text": f"t{i}"}, {"image": f"{i}.png"}, id=f"id{i}")
        for i in range(n)
        for t in ("TI", "IT")
    ]
