"""Bad input is refused at its boundary with one line naming the file, line, field or option (issue 12):
training configs and pair manifests, M-BEIR files and `omniret eval` options, model configs, and the
encode API's inputs. Exit code 2 for all of them (docs/CLI.md). ``OmniInput``'s own field checks are in
tests/inputs/test_omni.py."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from omniret.api import Embedder, ModelNotFoundError, load_model
from omniret.cli.main import app
from omniret.config import ConfigError, load_config
from omniret.errors import EXIT_USAGE, InputError
from omniret.eval.mbeir import BenchmarkFormatError, load_tasks
from omniret.inputs import OmniInput
from omniret.inputs.media import MediaError
from omniret.model import OmniRet
from omniret.train.config import load_train_config
from omniret.train.data import read_pairs
from tests.conftest import tiny_config, tiny_config_dict
from tests.helpers.builders import mbeir_fixture


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("omniret: error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


# ----------------------------------------------------------------------------- training configs


@pytest.fixture
def train_setup(tmp_path):
    """A valid training YAML (tiny random-tower model, two pairs); tests break one thing at a time."""
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    (root / "img").mkdir()
    Image.new("RGB", (32, 32), (255, 0, 0)).save(root / "img" / "red.png")
    rows = [
        {
            "dataset": "sw",
            "task": "TI",
            "query": {"text": "red"},
            "positive": {"image": "img/red.png"},
            "id": "r",
        }
    ]
    (root / "train" / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = tmp_path / "tiny.yaml"
    model.write_text(yaml.safe_dump(tiny_config_dict()))
    data = {"model": str(model), "steps": 2, "out": str(tmp_path / "run"),
            "data": {"pairs": [str(root / "train" / "pairs.jsonl")], "tasks_per_batch": 1, "pairs_per_task": 1}}  # fmt: skip
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, root / "train" / "pairs.jsonl"


BAD_OVERRIDES = [
    ("data.tasks_per_batch=0", "data.tasks_per_batch"),
    ("data.pairs_per_task=-3", "data.pairs_per_task"),
    ("data.datasets_per_task=0", "data.datasets_per_task"),
    ("data.dev_fraction=1.0", "data.dev_fraction"),
    ("steps=0", "steps"),
    ("steps=-5", "steps"),
    ("steps=true", "steps"),  # a bool is not an int
    ("steps=2.5", "steps"),
    ("save_every=0", "save_every"),
    ("log_every=0", "log_every"),
    ("max_minutes=0", "max_minutes"),
    ("stop_at=0", "stop_at"),
    ("optim.grad_accum=0", "optim.grad_accum"),
    ("optim.grad_clip=0", "optim.grad_clip"),
    ("optim.warmup_steps=-1", "optim.warmup_steps"),
    ("optim.min_lr_ratio=2", "optim.min_lr_ratio"),
    ("optim.lr=.nan", "optim.lr"),
    ("optim.lr_lora=-.inf", "optim.lr_lora"),
    ("optim.lr=1e400", "optim.lr"),  # YAML reads it as a string; float() would give inf
    ("eval.max_queries=0", "eval.max_queries"),
    ("eval.every=-1", "eval.every"),
    ("warm_start.steps=-1", "warm_start.steps"),
    ("warm_start.temperature=0", "warm_start.temperature"),
    ("loss.temperature=0", "loss.temperature"),
    ("loss.diversity_dropout=1", "loss.diversity_dropout"),
    ("self_negatives=1.5", "self_negatives"),
    ("modality_temperature.TI=0", "modality_temperature.TI"),
    ("negatives_curriculum.ramp=0", "negatives_curriculum"),
    ("data.pairs=just-one-file.jsonl", "data.pairs"),  # a string where a list belongs
    ("model_overrides=pooler.kind=eos", "model_overrides"),
    ("stepz=3", "stepz"),
    ("data.bogus=1", "data.bogus"),
    ("steps=[", "steps=["),  # the override's value is not YAML
    ("steps", "steps"),  # not key=value
    ("data.tasks_per_batch.x=1", "tasks_per_batch"),  # a scalar used as a mapping
]


@pytest.mark.parametrize(("override", "named"), BAD_OVERRIDES)
def test_bad_training_values_are_refused_naming_the_key(train_setup, override, named):
    path, _ = train_setup
    with pytest.raises(ConfigError) as err:
        load_train_config(path, [override])
    assert named in str(err.value)
    result = CliRunner().invoke(app, ["train", str(path), override])
    assert result.exit_code == EXIT_USAGE and named in one_error_line(result)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"steps: [\n", r"train\.yaml: not valid YAML \(line 2"),
        (b"data:\n  pairs: [a\n  tasks_per_batch: 1\n", r"train\.yaml: not valid YAML \(line \d+"),
        (b"\xff\xfesteps: 3\n", r"train\.yaml: not UTF-8"),
        (b"- steps\n- 3\n", r"train\.yaml: expected a mapping"),
        (b"just a string\n", r"train\.yaml: expected a mapping"),
        (b"data: 5\n", r"data: expected a mapping"),
        (b"optim:\n  lr: [1, 2]\n", r"optim\.lr: expected float"),
        (b"{1: 2}\n", r"unknown config key '1'"),
    ],
)
def test_broken_training_files_are_refused_naming_the_file(tmp_path, content, named):
    path = tmp_path / "train.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=named):
        load_train_config(path)
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code == EXIT_USAGE
    one_error_line(result)


def test_missing_training_config_and_empty_data_are_one_line(tmp_path, train_setup):
    result = CliRunner().invoke(app, ["train", str(tmp_path / "nope.yaml")])
    assert result.exit_code == EXIT_USAGE and "nope.yaml" in one_error_line(result)
    path, _ = train_setup
    result = CliRunner().invoke(app, ["train", str(path), "data.pairs=[]"])
    assert result.exit_code == EXIT_USAGE and "nothing to train on" in one_error_line(result)


# ----------------------------------------------------------------------------- pair manifests

GOOD_PAIR = {
    "dataset": "sw",
    "task": "TI",
    "query": {"text": "red"},
    "positive": {"image": "img/red.png"},
    "id": "r",
}


def _pair(**changes) -> str:
    return json.dumps({**GOOD_PAIR, **changes})


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (_pair(query="red"), "query must be a mapping"),
        (_pair(query={"txt": "red"}), "query: unknown field 'txt'"),
        (_pair(positive={}), "positive is empty"),
        (_pair(query={"text": 5}), "query.text must be a non-empty string"),
        (_pair(positive={"image": ["a.png"]}), "positive.image must be a non-empty string"),
        (_pair(id=True), "id must be"),
        (_pair(id=1.5), "id must be"),
        (_pair(id=None), "id must be"),
        (_pair(dataset=""), "dataset must be a non-empty string"),
        (_pair(task=["TI"]), "task must be a non-empty string"),
        (json.dumps({"dataset": "sw"}), "missing task, query, positive, id"),
        ("[1, 2]", "expected a JSON object"),
        ('{"dataset": ', "not valid JSON"),
    ],
)
def test_bad_pair_lines_are_refused_naming_file_line_and_field(train_setup, line, named):
    path, pairs = train_setup
    pairs.write_text(_pair() + "\n\n" + line + "\n")
    with pytest.raises(ConfigError) as err:
        read_pairs(pairs)
    assert f"{pairs}:3: " in str(err.value) and named in str(err.value)
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code == EXIT_USAGE and "pairs.jsonl:3: " in one_error_line(result)


def test_non_utf8_pairs_and_instructions_are_named(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_bytes(_pair().encode() + b"\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"pairs\.jsonl:2: not UTF-8"):
        read_pairs(pairs)
    from omniret.train.data import instruction_table

    tsv = tmp_path / "instructions.tsv"
    tsv.write_text("query_modality\tcand_modality\n")
    with pytest.raises(ConfigError, match=r"instructions\.tsv:1: the header must include"):
        instruction_table(tsv)
    tsv.write_text("query_modality\tcand_modality\tdataset_name\tprompt_1\ntext\timage\n")
    with pytest.raises(ConfigError, match=r"instructions\.tsv:2: missing column"):
        instruction_table(tsv)


# ----------------------------------------------------------------------------- M-BEIR files

Q = {"qid": "9:100", "query_modality": "text", "query_txt": "v0", "pos_cand_list": ["9:1"]}
C = {"did": "9:0", "modality": "text", "txt": "v0"}


def _q(**changes) -> str:
    return json.dumps({k: v for k, v in {**Q, **changes}.items() if v is not ...})


def _c(**changes) -> str:
    return json.dumps({k: v for k, v in {**C, **changes}.items() if v is not ...})


MBEIR_CASES = [
    ("query", "", None, "empty (no JSON lines)"),
    ("pool", "", None, "empty (no JSON lines)"),
    (
        "query",
        _q(pos_cand_list="9:1"),
        1,
        "pos_cand_list must be a JSON list",
    ),  # not read character by character
    ("query", _q(neg_cand_list="9:2"), 1, "neg_cand_list must be a JSON list"),
    ("query", _q(pos_cand_list=[]), 1, "pos_cand_list is empty"),
    ("query", _q(pos_cand_list=[["9:1"]]), 1, "pos_cand_list holds"),
    ("query", _q(pos_cand_list=["nope"]), None, "positive 'nope' of query '9:100' is not in its pool"),
    ("query", _q(query_modality=5), 1, "query_modality must be"),
    ("query", _q(query_modality="txt"), 1, "query_modality must be"),
    ("query", _q(query_txt=5), 1, "query_txt must be a string or null"),
    ("query", _q(query_txt=...), 1, "query_txt is empty"),
    ("query", _q(query_modality="image"), 1, "query_img_path is empty"),
    ("query", _q(query_img_path={"a": 1}), 1, "query_img_path must be a string or null"),
    ("query", _q(qid=[1]), 1, "qid must be"),
    ("query", _q(qid=True), 1, "qid must be"),
    ("query", _q(pos_cand_list=...), 1, "missing field(s) pos_cand_list"),
    ("query", _q() + "\n" + _q(), 2, "qid '9:100' repeats line 1"),
    (
        "query",
        '{"qid": NaN, "query_modality": "text", "query_txt": "v0", "pos_cand_list": ["9:1"]}',
        1,
        "qid must be",
    ),
    ("query", "{oops", 1, "not valid JSON"),
    ("query", "[1, 2]", 1, "expected a JSON object"),
    ("pool", _c(txt=["v0"]), 1, "txt must be a string or null"),
    ("pool", _c(modality=None), 1, "modality must be"),
    ("pool", _c(did=None), 1, "did must be"),
    ("pool", _c() + "\n" + _c(), 2, "did '9:0' repeats line 1"),
]


@pytest.mark.parametrize(("which", "text", "line", "named"), MBEIR_CASES)
def test_malformed_mbeir_files_are_refused_naming_file_line_and_field(tmp_path, which, text, line, named):
    root = mbeir_fixture(tmp_path)
    if which == "query":
        f = root / "query" / "test" / "mbeir_toy_task0_test.jsonl"
    else:
        f = root / "cand_pool" / "local" / "mbeir_toy_task0_cand_pool.jsonl"
    if which == "pool" and text:  # the rest of the pool (format errors come before the positives check)
        text = text + "\n" + "\n".join(_c(did=f"9:{i}", txt=f"v{i}") for i in (1, 2, 3))  # keep the positives
    f.write_text(text + ("\n" if text else ""))
    with pytest.raises(BenchmarkFormatError) as err:
        load_tasks(root, pattern="toy_task0")
    where = f"{f}:{line}: " if line else f"{f}"
    assert where in str(err.value) and named in str(err.value)
    result = CliRunner().invoke(
        app, ["eval", "mbeir", str(root), "--model", "random", "--tasks", "toy_task0"]
    )
    assert result.exit_code == EXIT_USAGE and named in one_error_line(result)


def test_non_utf8_mbeir_lines_and_bad_instructions_are_named(tmp_path):
    root = mbeir_fixture(tmp_path)
    f = root / "query" / "test" / "mbeir_toy_task0_test.jsonl"
    f.write_bytes(_q().encode() + b"\n\xff{}\n")
    with pytest.raises(BenchmarkFormatError, match=r"_test\.jsonl:2: not UTF-8"):
        load_tasks(root, pattern="toy_task0")
    f.write_text(_q() + "\n")
    tsv = root / "instructions" / "query_instructions.tsv"
    tsv.write_bytes(tsv.read_bytes() + b"text\ttext\n")  # a row shorter than the header
    with pytest.raises(
        BenchmarkFormatError, match=r"query_instructions\.tsv:\d+: missing column\(s\) dataset_id"
    ):
        load_tasks(root, pattern="toy_task0")


def test_missing_benchmark_parts_are_input_errors_and_still_file_not_found(tmp_path):
    with pytest.raises(BenchmarkFormatError) as err:
        load_tasks(tmp_path)
    assert isinstance(err.value, FileNotFoundError)
    result = CliRunner().invoke(app, ["eval", "mbeir", str(tmp_path / "nowhere"), "--model", "random"])
    assert result.exit_code == EXIT_USAGE and "nowhere" in one_error_line(result)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--k", "1,a"], "--k"),
        (["--k", "0"], "--k"),
        (["--k", ","], "--k"),
        (["--batch-size", "0"], "--batch-size"),
        (["--pool", "bogus"], "--pool"),
        (["--geometry"], "--pool global"),
        (["--model", "no-such-model"], "no-such-model"),
    ],
)
def test_bad_eval_options_are_one_line(tmp_path, args, named):
    root = mbeir_fixture(tmp_path)
    base = ["eval", "mbeir", str(root), "--tasks", "toy_task0", "--cache-dir", str(tmp_path / "c")]
    if "--model" not in args:
        base += ["--model", "random"]
    result = CliRunner().invoke(app, [*base, *args])
    assert result.exit_code == EXIT_USAGE and named in one_error_line(result)


# ----------------------------------------------------------------------------- model configs


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("dim=0", "dim"),
        ("resampler.heads=0", "resampler.heads"),
        ("resampler.video_grid=[2, 2]", "resampler.video_grid"),
        ("towers.vision.grid=abc", "towers.vision.grid"),
        ("towers.vision.grid=[4, 0]", "towers.vision.grid"),
        ("towers.audio.tokens_per_second=.nan", "towers.audio.tokens_per_second"),
        ("pooler.head=bogus", "pooler.head"),
        ("pooler.num_slices=-1", "pooler.num_slices"),
        ("composer.lora.dropout=1.5", "composer.lora.dropout"),
        ("composer.lora.target_modules=5", "composer.lora.target_modules"),
        ("media.max_frames=0", "media.max_frames"),
        ("media.max_audio_seconds=.inf", "media.max_audio_seconds"),
        ("hints.min_label_prob=2", "hints.min_label_prob"),
        ("pooler.num_slices=[", "pooler.num_slices=["),
        ("=3", "=3"),
        ("a..b=3", "a..b=3"),
    ],
)
def test_bad_model_values_are_refused_naming_the_key(tmp_path, override, named):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict()))
    with pytest.raises(ConfigError) as err:
        load_config(path, [override])
    assert named in str(err.value)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"dim: [\n", r"model\.yaml: not valid YAML \(line 2"),
        (b"\xff", r"model\.yaml: not UTF-8"),
        (b"- 1\n", "mapping"),
    ],
)
def test_broken_model_files_are_refused_naming_the_file(tmp_path, content, named):
    path = tmp_path / "model.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=named):
        load_config(path)


# ----------------------------------------------------------------------------- the encode API

WAVE = np.zeros(1600, np.float32)


@pytest.fixture(scope="module")
def embedder():
    torch.manual_seed(0)
    return Embedder(OmniRet.build(tiny_config()))


def test_media_problems_found_while_encoding_are_media_errors(embedder):
    for x in (
        OmniInput(audio=np.full(1600, np.nan, np.float32)),
        OmniInput(image=b""),
        OmniInput(audio=(WAVE, 1)),
    ):
        with pytest.raises(MediaError):
            embedder.encode([x])


def test_encode_arguments_are_checked(embedder):
    with pytest.raises(InputError, match="list of OmniInput"):
        embedder.encode(OmniInput(text="a"))
    with pytest.raises(InputError, match=r"inputs\[1\] is str"):
        embedder.encode([OmniInput(text="a"), "b"])
    with pytest.raises(InputError, match="batch_size"):
        embedder.encode([OmniInput(text="a")], batch_size=0)
    assert embedder.encode([]).shape == (0, embedder.dim)


def test_unknown_models_are_input_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no-such") as err:
        load_model("no-such", cache=False)
    assert isinstance(err.value, InputError) and isinstance(err.value, FileNotFoundError)
    with pytest.raises(InputError, match="precision"):
        load_model("omniret-small", cache=False, precision="fp8")
    assert Path(tmp_path).is_dir()
