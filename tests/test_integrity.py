"""Integrity (issue 12, item 4), end to end: a corrupted checkpoint stops `omniret eval` and `omniret
train` with exit 1 unless --no-verify, and training refuses non-finite learning rates and losses
where they first appear and never writes a NaN checkpoint. (The checkpoint's own checks are in
test_checkpoint.py, the embedder's in test_embedder.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from omniret.checkpoint import HEADS_FILE, MANIFEST_FILE, load_checkpoint, read_heads
from omniret.cli.main import app
from omniret.config import ConfigError
from omniret.errors import EXIT_RUNTIME, EXIT_USAGE, IntegrityError
from omniret.train.config import load_train_config
from omniret.train.loop import Trainer
from tests.conftest import tiny_config_dict
from tests.helpers.builders import mbeir_fixture, swatch_pairs


def one_error_line(result) -> str:
    """The CLI's whole stderr must be one `omniret: error:` line (no traceback, no usage box)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("omniret: error: "), result.output
    return lines[0]


def manifest(path: Path) -> dict:
    return json.loads((path / MANIFEST_FILE).read_text())


# ----------------------------------------------------------------------------- evaluation


def test_eval_cli_refuses_a_corrupted_checkpoint_with_exit_1_and_accepts_no_verify(tmp_path, tiny_ckpt):
    root = mbeir_fixture(tmp_path / "bench")
    data = bytearray((tiny_ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (tiny_ckpt / HEADS_FILE).write_bytes(bytes(data))
    args = ["eval", "mbeir", str(root), "--model", str(tiny_ckpt), "--tasks", "toy_task0",
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


def test_train_cli_no_verify_starts_from_a_corrupted_checkpoint(tmp_path, pairs, tiny_ckpt):
    data = bytearray((tiny_ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (tiny_ckpt / HEADS_FILE).write_bytes(bytes(data))
    path = train_yaml(tmp_path, pairs, steps=1, model=str(tiny_ckpt))
    bad = CliRunner().invoke(app, ["train", str(path)])
    assert bad.exit_code == EXIT_RUNTIME and "SHA-256" in one_error_line(bad)
    ok = CliRunner().invoke(app, ["train", str(path), "--no-verify"])
    assert ok.exit_code == 0, ok.output
    load_checkpoint(tmp_path / "run" / "final")  # written from the unverified start, and itself sound
