"""Integrity (issue 12, item 4): checkpoints are verified on load, non-finite numbers are refused
where they first appear (weights, embeddings, learning rates, losses), and no NaN checkpoint is written."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from omniret.api import Embedder, load_model
from omniret.checkpoint import (
    HEADS_FILE,
    MANIFEST_FILE,
    head_state,
    load_checkpoint,
    read_heads,
    save_checkpoint,
    verify_weights,
    weights_hash,
)
from omniret.cli.main import app
from omniret.config import ConfigError
from omniret.errors import EXIT_RUNTIME, EXIT_USAGE, IntegrityError
from omniret.inputs import OmniInput
from omniret.model import OmniRet
from omniret.train.config import load_train_config
from omniret.train.loop import Trainer
from tests.conftest import local_config_dict, tiny_config, tiny_config_dict
from tests.helpers.builders import mbeir_fixture, swatch_pairs


def one_error_line(result) -> str:
    """The CLI's whole stderr must be one `omniret: error:` line (no traceback, no usage box)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("omniret: error: "), result.output
    return lines[0]


def manifest(path: Path) -> dict:
    return json.loads((path / MANIFEST_FILE).read_text())


@pytest.fixture
def ckpt(tmp_path) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(OmniRet.build(tiny_config()), tmp_path / "ckpt")


# ----------------------------------------------------------------------------- checkpoint hashes


def test_load_verifies_and_recomputes_the_saved_hash(ckpt):
    model = load_checkpoint(ckpt, merge_lora=False)
    assert weights_hash(model) == manifest(ckpt)["weights_hash"]
    assert verify_weights(model, ckpt) == manifest(ckpt)["weights_hash"]
    data = (ckpt / HEADS_FILE).read_bytes()
    assert manifest(ckpt)["heads_sha256"] == hashlib.sha256(data).hexdigest()


def test_shipped_checkpoint_verifies_and_a_changed_byte_of_it_is_refused(tmp_path):
    """The shipped manifest records both hashes; a copy with one low mantissa bit flipped in its last
    float16 (below what the weights hash could see in an fp32 tensor) is refused by the SHA-256."""
    import shutil

    from omniret.api import SHIPPED

    shipped = SHIPPED / "omniret-small"
    model = load_checkpoint(shipped, merge_lora=False)
    assert weights_hash(model) == manifest(shipped)["weights_hash"]
    assert (
        manifest(shipped)["heads_sha256"] == hashlib.sha256((shipped / HEADS_FILE).read_bytes()).hexdigest()
    )
    copy = shutil.copytree(shipped, tmp_path / "copy")
    data = bytearray((copy / HEADS_FILE).read_bytes())
    data[-2] ^= 0x01
    (copy / HEADS_FILE).write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"SHA-256|weights hash"):
        load_checkpoint(copy, merge_lora=False)


def test_a_flipped_low_byte_is_refused_naming_the_file_and_both_hashes(ckpt):
    """The lowest mantissa byte of a float32: too small for the float16 weights hash, not for SHA-256."""
    data = bytearray((ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (ckpt / HEADS_FILE).write_bytes(bytes(data))
    recorded = manifest(ckpt)["heads_sha256"]
    with pytest.raises(IntegrityError) as err:
        load_checkpoint(ckpt)
    msg = str(err.value)
    assert str(ckpt / HEADS_FILE) in msg and recorded[:16] in msg
    assert hashlib.sha256(bytes(data)).hexdigest()[:16] in msg and "--no-verify" in msg
    model = load_checkpoint(ckpt, verify=False)  # the explicit escape
    assert model is not None


def test_changed_weights_are_refused_by_the_weights_hash(ckpt):
    """A checkpoint without heads_sha256 (saved before it existed) is still checked by weights_hash."""
    info = manifest(ckpt)
    del info["heads_sha256"]
    (ckpt / MANIFEST_FILE).write_text(json.dumps(info))
    state = load_file(ckpt / HEADS_FILE)
    key = sorted(state)[0]
    state[key] = state[key] + 1.0
    save_file(state, ckpt / HEADS_FILE)
    found = weights_hash(load_checkpoint(ckpt, verify=False, merge_lora=False))
    with pytest.raises(IntegrityError) as err:
        load_checkpoint(ckpt)
    msg = str(err.value)
    assert str(ckpt / HEADS_FILE) in msg and info["weights_hash"] in msg and found in msg
    assert found != info["weights_hash"]


def test_nan_weights_are_refused_naming_the_tensor_even_without_verification(ckpt):
    state = load_file(ckpt / HEADS_FILE)
    key = sorted(state)[3]
    state[key].view(-1)[0] = float("nan")
    save_file(state, ckpt / HEADS_FILE)
    for verify in (True, False):
        with pytest.raises(IntegrityError, match=rf"{HEADS_FILE}: tensor '{key}' holds non-finite"):
            load_checkpoint(ckpt, verify=verify)


def test_truncated_heads_and_missing_manifest_are_integrity_errors(ckpt):
    (ckpt / MANIFEST_FILE).unlink()
    with pytest.raises(IntegrityError, match=r"manifest\.json is missing.*verify=False"):
        load_checkpoint(ckpt)
    assert load_checkpoint(ckpt, verify=False) is not None
    data = (ckpt / HEADS_FILE).read_bytes()
    (ckpt / HEADS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError, match=r"heads\.safetensors: cannot read the weights"):
        load_checkpoint(ckpt, verify=False)


def test_overrides_do_not_break_verification(tmp_path, hf_dirs):
    """The hash covers the checkpoint's own tower ids: a moved tower directory given as an override
    (or a hints override) still verifies against the manifest."""
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(local_config_dict(hf_dirs)))
    from omniret.config import load_config

    torch.manual_seed(0)
    path = save_checkpoint(OmniRet.build(load_config(cfg_path)), tmp_path / "ckpt")
    moved = tmp_path / "siglip-copy"
    shutil.copytree(hf_dirs / "siglip", moved)
    model = load_checkpoint(path, overrides=[f"towers.vision.path={moved}", "hints.image_labels=0"])
    assert model.towers["vision"].tower_id != ""  # the override took effect, and the load verified


def test_saving_nan_weights_is_refused_and_keeps_the_previous_checkpoint(ckpt):
    model = load_checkpoint(ckpt, merge_lora=False)
    before = (ckpt / HEADS_FILE).read_bytes(), (ckpt / MANIFEST_FILE).read_text()
    key, param = next((k, v) for k, v in head_state(model).items() if v.is_floating_point())
    param.data.view(-1)[0] = float("inf")
    with pytest.raises(IntegrityError, match=rf"refusing to save .*tensor '{key}'"):
        save_checkpoint(model, ckpt)
    assert ((ckpt / HEADS_FILE).read_bytes(), (ckpt / MANIFEST_FILE).read_text()) == before
    load_checkpoint(ckpt)  # still verifies


def test_nan_embeddings_are_refused_naming_the_input():
    torch.manual_seed(0)
    model = OmniRet.build(tiny_config())
    with torch.no_grad():
        for p in model.pooler.parameters():
            p.fill_(float("nan"))
    inputs = [OmniInput(text="first words"), OmniInput(text="second words")]
    with pytest.raises(
        IntegrityError, match=r"non-finite embedding for inputs\[[01]\] \(text='(first|second) words'\)"
    ):
        Embedder(model).encode(inputs)


def test_load_model_verifies_unless_told_not_to(ckpt):
    data = bytearray((ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (ckpt / HEADS_FILE).write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        load_model(ckpt, cache=False)
    assert load_model(ckpt, cache=False, verify=False).dim == 40


def test_eval_cli_refuses_a_corrupted_checkpoint_with_exit_1_and_accepts_no_verify(tmp_path, ckpt):
    root = mbeir_fixture(tmp_path / "bench")
    data = bytearray((ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (ckpt / HEADS_FILE).write_bytes(bytes(data))
    args = ["eval", "mbeir", str(root), "--model", str(ckpt), "--tasks", "toy_task0",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == EXIT_RUNTIME and HEADS_FILE in one_error_line(bad)
    ok = CliRunner().invoke(app, [*args, "--no-verify"])
    assert ok.exit_code == 0, ok.output


# ----------------------------------------------------------------------------- training


@pytest.fixture
def pairs(tmp_path) -> Path:
    """Colour swatches <-> names (TI and IT): enough for a few steps of a tiny random-tower model."""
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    colours = {"red": (255, 0, 0), "green": (0, 200, 0), "blue": (0, 0, 255), "grey": (90, 90, 90)}
    rows = swatch_pairs(root, colours, dataset="sw", shades=2, step=30)
    (root / "train" / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root / "train" / "pairs.jsonl"


def train_yaml(tmp_path, pairs, **extra) -> Path:
    model = tmp_path / "tiny.yaml"
    model.write_text(yaml.safe_dump(tiny_config_dict()))
    data = {"model": str(model), "steps": 6, "out": str(tmp_path / "run"), "save_every": 2, "seed": 1,
            "data": {"pairs": [str(pairs)], "tasks_per_batch": 2, "pairs_per_task": 4},
            "optim": {"lr": 1e-3, "warmup_steps": 1}, **extra}  # fmt: skip
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def poison_loss_at(monkeypatch, step: int) -> None:
    """The loss of (1-based) training step ``step`` becomes NaN, as a diverging run's would."""
    real = Trainer.loss_at

    def loss_at(self, s, micro=0):
        terms, batch, extra = real(self, s, micro)
        if s + 1 == step:
            terms.total = terms.total * float("nan")
        return terms, batch, extra

    monkeypatch.setattr(Trainer, "loss_at", loss_at)


def assert_finite_checkpoints(run: Path) -> None:
    for d in run.iterdir():
        if (d / HEADS_FILE).is_file():
            state = read_heads(d, sha256=manifest(d)["heads_sha256"])  # refuses non-finite tensors
            assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_nan_loss_stops_training_naming_the_step_and_keeps_the_last_good_checkpoint(
    tmp_path, pairs, monkeypatch
):
    poison_loss_at(monkeypatch, 5)
    cfg = load_train_config(train_yaml(tmp_path, pairs))
    trainer = Trainer(cfg, log=lambda *_: None)
    with pytest.raises(
        IntegrityError, match=r"step 5: the loss is nan.*last good checkpoint .*last \(step 4\)"
    ):
        trainer.run()
    run = tmp_path / "run"
    assert not (run / "final").exists()
    assert manifest(run / "last")["train_step"] == 4
    assert_finite_checkpoints(run)
    load_checkpoint(run / "last")  # verifies


def test_train_cli_exits_1_on_a_nan_loss_with_one_line(tmp_path, pairs, monkeypatch):
    poison_loss_at(monkeypatch, 1)
    result = CliRunner().invoke(app, ["train", str(train_yaml(tmp_path, pairs))])
    assert result.exit_code == EXIT_RUNTIME
    line = one_error_line(result)
    assert "training stopped at step 1" in line and "no checkpoint had been saved" in line
    assert not (tmp_path / "run" / "last").exists()


def test_a_diverging_learning_rate_is_stopped_before_any_nan_is_saved(tmp_path, pairs):
    cfg = load_train_config(
        train_yaml(tmp_path, pairs, save_every=1, steps=8), ["optim.lr=1e30", "optim.grad_clip=1e30"]
    )
    with pytest.raises(IntegrityError, match=r"training stopped at step \d+"):
        Trainer(cfg, log=lambda *_: None).run()
    assert_finite_checkpoints(tmp_path / "run")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "-1.0"])
def test_a_non_finite_or_negative_learning_rate_is_refused_at_config_load(tmp_path, pairs, value):
    path = train_yaml(tmp_path, pairs)
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        load_train_config(path, [f"optim.lr={value}"])
    result = CliRunner().invoke(app, ["train", str(path), f"optim.lr={value}"])
    assert result.exit_code == EXIT_USAGE and "optim.lr" in one_error_line(result)
    assert not (tmp_path / "run").exists()


def test_resume_verifies_out_last(tmp_path, pairs):
    cfg = load_train_config(train_yaml(tmp_path, pairs, steps=2, stop_at=2))
    Trainer(cfg, log=lambda *_: None).run()
    last = tmp_path / "run" / "last"
    data = bytearray((last / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (last / HEADS_FILE).write_bytes(bytes(data))
    cfg = load_train_config(train_yaml(tmp_path, pairs, steps=3))
    with pytest.raises(IntegrityError, match=r"run/last/heads\.safetensors: SHA-256"):
        Trainer(cfg, log=lambda *_: None).run()
    Trainer(cfg, log=lambda *_: None, verify=False).run()  # the explicit escape resumes
    assert manifest(tmp_path / "run" / "final")["train_step"] == 3


def test_train_cli_no_verify_starts_from_a_corrupted_checkpoint(tmp_path, pairs, ckpt):
    data = bytearray((ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (ckpt / HEADS_FILE).write_bytes(bytes(data))
    path = train_yaml(tmp_path, pairs, steps=1, model=str(ckpt))
    bad = CliRunner().invoke(app, ["train", str(path)])
    assert bad.exit_code == EXIT_RUNTIME and "SHA-256" in one_error_line(bad)
    ok = CliRunner().invoke(app, ["train", str(path), "--no-verify"])
    assert ok.exit_code == 0, ok.output
    load_checkpoint(tmp_path / "run" / "final")  # written from the unverified start, and itself sound
