"""Property tests of the readers of user files (issue 12, item 7): M-BEIR JSONL, training pair
manifests, model and training YAML configs, and option parsers (``a.b=value`` overrides, eval's
``--k``). Whatever they are given, they load it or raise their area's ``InputError`` (one line
naming the file, line or key); any other exception is a defect.

Each property runs 50 derandomized examples in ``make test`` (reproducible, no example database
written) and 2,000 in ``make test-slow``.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from omniret.cli.evaluate import parse_ks
from omniret.config import ConfigError, ModelConfig, apply_overrides, load_config
from omniret.errors import InputError
from omniret.eval.mbeir import BenchmarkFormatError, load_tasks
from omniret.train.config import TrainConfig, load_train_config
from omniret.train.data import SIDE_KEYS, read_pairs
from tests.conftest import tiny_config_dict

FAST = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
LONG = settings(FAST, max_examples=2000)

# ----------------------------------------------------------------------------- value strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)  # fmt: skip
garbage_lines = st.binary(max_size=40) | st.text(max_size=40).map(str.encode)


FIELDS_Q = {"text": "query_txt", "image": "query_img_path", "audio": "query_audio_path",
            "video": "query_video_path"}  # fmt: skip
FIELDS_C = {"text": "txt", "image": "img_path", "audio": "audio_path", "video": "video_path"}
VALID_MODALITIES = st.sampled_from(["text", "image", "audio", "video", "image,text", "audio,text"])
CONTENT = {"text": "v0", "image": "img/a.png", "audio": "a.wav", "video": "v.mp4"}
ODD_VALUES = st.sampled_from(["", " ", "txt", "9:0", "image,bogus", "\udcff", "NaN"]) | json_values


def _row(fields: dict[str, str], modality: str, **ids) -> dict:
    row = dict(ids)
    row["query_modality" if "qid" in ids else "modality"] = modality
    for part in modality.split(","):
        row[fields[part]] = CONTENT[part]
    return row


@st.composite
def mutated(draw, files: list[list[dict]], keys: list[list[str]]) -> list[list[bytes]]:
    """Valid rows as JSON lines, then 0-3 mutations: a field set to an odd value or removed, a line
    replaced by garbage (bytes that may not be JSON or UTF-8), a row duplicated, a blank line."""
    lines = [[json.dumps(r).encode() for r in rows] for rows in files]
    rows = [[dict(r) for r in f] for f in files]
    for _ in range(draw(st.integers(0, 3))):
        f = draw(st.integers(0, len(files) - 1))
        if not rows[f]:
            continue
        i = draw(st.integers(0, len(rows[f]) - 1))
        kind = draw(st.sampled_from(["set", "set", "drop", "garbage", "duplicate", "blank"]))
        if kind == "set":
            rows[f][i][draw(st.sampled_from(keys[f]))] = draw(ODD_VALUES)
        elif kind == "drop":
            rows[f][i].pop(draw(st.sampled_from(keys[f])), None)
        if kind in ("set", "drop"):
            lines[f][i] = json.dumps(rows[f][i]).encode()
        elif kind == "garbage":
            lines[f][i] = draw(garbage_lines)
        elif kind == "duplicate":
            lines[f].append(lines[f][i])
        else:
            lines[f].insert(i, b"   ")
    return lines


@st.composite
def mbeir_files(draw) -> tuple[list[bytes], list[bytes]]:
    dids = draw(st.lists(st.sampled_from(["9:0", "9:1", "9:2", "9:3"]), min_size=1, max_size=4, unique=True))
    pool = [_row(FIELDS_C, draw(VALID_MODALITIES), did=d) for d in dids]
    qids = draw(st.lists(st.sampled_from(["q:1", "q:2", "q:3"]), min_size=1, max_size=3, unique=True))
    queries = [
        _row(FIELDS_Q, draw(VALID_MODALITIES), qid=q,
             pos_cand_list=draw(st.lists(st.sampled_from(dids), min_size=1, max_size=2, unique=True)))
        for q in qids
    ]  # fmt: skip
    q_keys = ["qid", "query_modality", "pos_cand_list", "neg_cand_list", *FIELDS_Q.values()]
    p_keys = ["did", "modality", *FIELDS_C.values()]
    q_lines, p_lines = draw(mutated([queries, pool], [q_keys, p_keys]))
    return q_lines, p_lines


INSTRUCTIONS = st.sampled_from(
    [b"query_modality\tcand_modality\tdataset_id\tprompt_1\ntext\ttext\tq\tFind it.\n",
     b"query_modality\tcand_modality\n", b"query_modality\tcand_modality\tdataset_id\ntext\n", b"\xff\xfe", b""]
)  # fmt: skip


def _note(what: str) -> None:
    from hypothesis import currently_in_test_context

    if currently_in_test_context():
        event(what)


# ----------------------------------------------------------------------------- M-BEIR


def check_mbeir(query_lines: list[bytes], pool_lines: list[bytes], instructions: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "query" / "test").mkdir(parents=True)
        (root / "cand_pool" / "local").mkdir(parents=True)
        (root / "query" / "test" / "mbeir_fuzz_test.jsonl").write_bytes(b"\n".join(query_lines))
        (root / "cand_pool" / "local" / "mbeir_fuzz_cand_pool.jsonl").write_bytes(b"\n".join(pool_lines))
        if instructions is not None:
            (root / "instructions").mkdir()
            (root / "instructions" / "query_instructions.tsv").write_bytes(instructions)
        try:
            (task,) = load_tasks(root)
        except BenchmarkFormatError as err:
            _note("refused")
            assert "mbeir_fuzz" in str(err) or "query_instructions" in str(err)
            return
        _note("accepted")
        dids = {c.did for c in task.pool}
        assert task.queries and task.pool
        for q in task.queries:
            assert isinstance(q.qid, str) and isinstance(q.pos_cand_list, list) and q.pos_cand_list
            assert all(isinstance(p, str) and p in dids for p in q.pos_cand_list)
            assert any(
                isinstance(v, str) and v.strip() for v in (q.txt, q.img_path, q.audio_path, q.video_path)
            )
        for c in task.pool:
            assert isinstance(c.did, str) and isinstance(c.modality, str)
            assert all(
                v is None or isinstance(v, str) for v in (c.txt, c.img_path, c.audio_path, c.video_path)
            )


@FAST
@given(files=mbeir_files(), instructions=st.none() | INSTRUCTIONS)
def test_mbeir_reader_loads_or_refuses(files, instructions):
    check_mbeir(*files, instructions)


@pytest.mark.slow
@LONG
@given(files=mbeir_files(), instructions=st.none() | INSTRUCTIONS)
def test_mbeir_reader_loads_or_refuses_long(files, instructions):
    check_mbeir(*files, instructions)


def test_a_valid_mbeir_task_is_accepted():
    """The properties above must see accepted files too: a sanity check that the strategies can pass."""
    q = json.dumps(
        {"qid": "9:1", "query_modality": "text", "query_txt": "v0", "pos_cand_list": ["9:0"]}
    ).encode()
    c = json.dumps({"did": "9:0", "modality": "text", "txt": "v0"}).encode()
    check_mbeir([q], [c], None)


# ----------------------------------------------------------------------------- pair manifests


@st.composite
def pair_files(draw) -> list[bytes]:
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        query, positive = draw(st.sampled_from([("text", "image"), ("image", "text"), ("audio", "text")]))
        rows.append({"dataset": "sw", "task": "TI", "query": {query: CONTENT[query]},
                     "positive": {positive: CONTENT[positive]}, "id": draw(st.sampled_from(["a", "b", 7]))})  # fmt: skip
    (lines,) = draw(mutated([rows], [["dataset", "task", "query", "positive", "id"]]))
    return lines


def check_pairs(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train" / "pairs.jsonl"
        path.parent.mkdir()
        path.write_bytes(b"\n".join(lines))
        try:
            pairs = read_pairs(path)
        except ConfigError as err:
            _note("refused")
            assert str(path) in str(err)
            return
        _note("accepted")
        for p in pairs:
            assert isinstance(p.id, str) and p.dataset and p.task
            for side in (p.query, p.positive):
                assert side and set(side) <= set(SIDE_KEYS) and all(isinstance(v, str) for v in side.values())


@FAST
@given(lines=pair_files())
def test_pair_manifest_reader_loads_or_refuses(lines):
    check_pairs(lines)


@pytest.mark.slow
@LONG
@given(lines=pair_files())
def test_pair_manifest_reader_loads_or_refuses_long(lines):
    check_pairs(lines)


# ----------------------------------------------------------------------------- YAML configs


def _paths(data, prefix=()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    return out


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def mutations(base: dict) -> st.SearchStrategy:
    """Up to 4 edits of ``base``: a key (existing, or a new one under an existing mapping) set to any
    YAML value, or deleted."""
    paths = _paths(base)
    new_key = st.tuples(st.sampled_from([()] + [p for p in paths if isinstance(_get(base, p), dict)]),
                        st.text(max_size=8)).map(lambda t: (*t[0], t[1]))  # fmt: skip
    edit = st.tuples(st.sampled_from(paths) | new_key, yaml_values | st.just(...))
    return st.lists(edit, max_size=4)


def _get(data, path):
    for k in path:
        data = data[k]
    return data


def mutate(base: dict, edits) -> object:
    data = copy.deepcopy(base)
    for path, value in edits:
        node = data
        for k in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(k, {})
        if not isinstance(node, dict) or not path:
            continue
        if value is ...:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return data


def check_yaml(loader, text: str, overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            loader(path, overrides)
            event(f"{loader.__name__}: accepted")
        except ConfigError as err:
            event(f"{loader.__name__}: refused")
            assert str(err).strip()


MODEL_BASE = tiny_config_dict()
TRAIN_BASE = {"model": "omniret-small", "steps": 10, "out": "run", "save_every": 5, "model_overrides": [],
              "data": {"pairs": ["p.jsonl"], "tasks_per_batch": 2, "pairs_per_task": 4, "mbeir": []},
              "optim": {"lr": 1e-3, "warmup_steps": 1, "grad_accum": 1}, "loss": {"temperature": 0.05},
              "warm_start": {"steps": 0}, "eval": {"every": 0}, "modality_temperature": {"TI": 0.05},
              "negatives_curriculum": {"weight": 0.0}, "instruction_mix": {"target": 0.0}}  # fmt: skip
OVERRIDES = st.lists(
    st.tuples(st.sampled_from(["dim", "steps", "optim.lr", "pooler.num_slices", "towers.vision.grid", "a..b", "",
                               "data.pairs", "resampler", "x.y.z"]),
              st.sampled_from(["=", "", "=="]), st.text(max_size=10) | st.sampled_from(["[", "{a: 1}", ".nan", "0", "-1"]))
    .map("".join), max_size=3,
)  # fmt: skip


def load_model_config(path, overrides):
    return load_config(path, overrides)


@FAST
@given(edits=mutations(MODEL_BASE), overrides=OVERRIDES)
def test_model_yaml_loads_or_refuses(edits, overrides):
    check_yaml(load_model_config, yaml.safe_dump(mutate(MODEL_BASE, edits)), overrides)


@FAST
@given(edits=mutations(TRAIN_BASE), overrides=OVERRIDES)
def test_training_yaml_loads_or_refuses(edits, overrides):
    check_yaml(load_train_config, yaml.safe_dump(mutate(TRAIN_BASE, edits)), overrides)


@FAST
@given(
    text=st.text(max_size=80)
    | st.sampled_from(["a: [", "- 1", "{", "a: !!python/object:os.system x", "&a [*a]"])
)
def test_raw_text_as_yaml_loads_or_refuses(text):
    check_yaml(load_model_config, text, [])
    check_yaml(load_train_config, text, [])


@pytest.mark.slow
@LONG
@given(
    model=mutations(MODEL_BASE), train=mutations(TRAIN_BASE), overrides=OVERRIDES, text=st.text(max_size=200)
)
def test_yaml_configs_load_or_refuse_long(model, train, overrides, text):
    check_yaml(load_model_config, yaml.safe_dump(mutate(MODEL_BASE, model)), overrides)
    check_yaml(load_train_config, yaml.safe_dump(mutate(TRAIN_BASE, train)), overrides)
    check_yaml(load_model_config, text, [])
    check_yaml(load_train_config, text, [])


def test_accepted_configs_survive_their_own_dump():
    """A loaded config dumps to YAML that loads to the same config (what checkpoints rely on)."""
    from omniret.config import dump_config, from_dict

    cfg = from_dict(ModelConfig, copy.deepcopy(MODEL_BASE))
    assert from_dict(ModelConfig, yaml.safe_load(dump_config(cfg))) == cfg
    train = from_dict(TrainConfig, copy.deepcopy(TRAIN_BASE))
    assert from_dict(TrainConfig, yaml.safe_load(dump_config(train))) == train


# ----------------------------------------------------------------------------- option parsers


def check_overrides(items: list[str]) -> None:
    data = copy.deepcopy(MODEL_BASE)
    try:
        apply_overrides(data, items)
        event("overrides accepted")
    except ConfigError as err:
        event("overrides refused")
        assert str(err).startswith("override ")


def check_ks(text: str) -> None:
    try:
        ks = parse_ks(text)
    except InputError as err:
        assert "--k" in str(err)
        return
    assert ks and all(isinstance(k, int) and k >= 1 for k in ks)


@FAST
@given(items=st.lists(st.text(max_size=20), max_size=4) | OVERRIDES, ks=st.text(max_size=12))
def test_option_parsers_parse_or_refuse(items, ks):
    check_overrides(items)
    check_ks(ks)


@pytest.mark.slow
@LONG
@given(items=st.lists(st.text(max_size=20), max_size=4) | OVERRIDES, ks=st.text(max_size=12))
def test_option_parsers_parse_or_refuse_long(items, ks):
    check_overrides(items)
    check_ks(ks)
