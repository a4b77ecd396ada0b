"""omniret.train.ablate: each Table 5 variant changes exactly its own setting on one budget, a variant
that fails is reported beside the others, and the comparison table shows ratios to the default."""

from __future__ import annotations

import pytest

import omniret.train.ablate as ablate
from omniret.config import ConfigError, load_config
from omniret.train.ablate import VARIANTS, AblationRow, markdown, run_ablations, variant_config
from omniret.train.config import TrainConfig


def test_ablation_variants_change_exactly_their_setting(tmp_path):
    base = TrainConfig(steps=1000)
    cfg = variant_config(base, "without L_div", 50, tmp_path)
    assert cfg.loss.diversity_weight == 0.0 and base.loss.diversity_weight == 0.1 and cfg.steps == 50
    eos = variant_config(base, "single EOS vector", 50, tmp_path)
    assert load_config(eos.model, eos.model_overrides).pooler.kind == "eos"
    for name in VARIANTS:  # every variant's overrides are valid config keys
        v = variant_config(base, name, 10, tmp_path)
        load_config(v.model, v.model_overrides)
    table = markdown([AblationRow("default (ASWP, STM)", 0.5, 1.0, 1.0, 60), AblationRow("without L_div", 0.4, 0.8, 0.938, 60)],
                     budget=50)  # fmt: skip
    assert "| without L_div | 40.0 | 0.800 | 0.938 | 1.0 min |" in table


def test_a_variant_leaves_the_base_config_alone_and_gets_its_own_folder(tmp_path):
    base = TrainConfig(steps=1000, model_overrides=["hints.image_labels=0"])
    base.optim.warmup_steps = 100
    cfg = variant_config(base, "ASWP, max head (no straight-through)", 30, tmp_path)
    assert cfg.model_overrides == ["hints.image_labels=0", "pooler.head=max"] and base.model_overrides == [
        "hints.image_labels=0"
    ]
    assert cfg.out == str(tmp_path / "aswp--max-head--no-straight-through")
    assert (cfg.optim.warmup_steps, base.optim.warmup_steps, cfg.save_every) == (3, 100, 31)  # a tenth of 30


def test_ablations_need_an_evaluation_benchmark_before_training_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(ablate, "Trainer", lambda *a, **k: pytest.fail("a variant was trained"))
    with pytest.raises(ConfigError, match=r"ablations need eval\.root"):
        run_ablations(TrainConfig(), budget=10, out=tmp_path)


def test_a_failing_variant_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    class FakeTrainer:
        def __init__(self, cfg, log=print):
            if cfg.model_overrides == ["pooler.kind=eos"]:
                raise ValueError("too many positions\nsecond line")
            self.embedder = cfg.loss.diversity_weight

        def run(self):
            pass

    monkeypatch.setattr(ablate, "Trainer", FakeTrainer)  # recall@5 0.5 for the default, 0.4 without L_div
    monkeypatch.setattr(ablate, "quick_eval", lambda emb, cfg: {"t1": 0.5 if emb else 0.3, "t2": 0.5})
    base = TrainConfig()
    base.eval.root = str(tmp_path)
    seen = []
    rows = run_ablations(base, budget=10, out=tmp_path, names=["default (ASWP, STM)", "single EOS vector",
                         "without L_div"], log=lambda *_: None, on_row=lambda r: seen.append(len(r)))  # fmt: skip
    assert seen == [1, 2, 3] and rows[1].error == "ValueError: too many positions"
    assert [r.recall for r in rows[::2]] == [0.5, pytest.approx(0.4)] and rows[2].ratio == pytest.approx(0.8)
    table = markdown(rows, budget=10)
    assert "| single EOS vector | failed: ValueError: too many positions |  | 0.865 |" in table
