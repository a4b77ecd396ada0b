import json
from collections import Counter

import numpy as np
import pytest
import torch

from omniret.config import ConfigError
from omniret.train.config import load_train_config
from omniret.train.data import Pair, TaskBalancedSampler, read_pairs
from omniret.train.loop import Trainer, lr_factor
from tests.helpers.builders import config


def test_loss_is_finite_and_decreases(tmp_path, dataset):
    cfg = config(tmp_path, dataset, steps=40)
    cfg.data.tasks_per_batch, cfg.data.pairs_per_task = 1, 4
    trainer = Trainer(cfg, log=lambda *_: None)

    def fixed_batches_loss() -> float:
        """The same 8 batches in eval mode: step-to-step training losses at batch 4 are too noisy to
        compare (one full-suite run saw 1.49 -> 1.38 by those while this measure halves)."""
        trainer.model.eval()
        with torch.no_grad():
            return float(np.mean([trainer.loss_at(s)[0].total.item() for s in range(8)]))

    before = fixed_batches_loss()
    trainer.run()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["total"] for r in rows if "total" in r]
    assert len(losses) == 40 and all(np.isfinite(losses))
    after = fixed_batches_loss()
    assert after < 0.8 * before, (before, after)
    assert (tmp_path / "run" / "final" / "heads.safetensors").is_file()


def test_resume_reproduces_the_next_losses_exactly(tmp_path, dataset):
    whole = Trainer(config(tmp_path, dataset, out="whole"), log=lambda *_: None)
    whole.run()
    first = Trainer(config(tmp_path, dataset, out="split", stop_at=3), log=lambda *_: None)
    first.run()  # interrupted after step 3 (OUT/last saved), as `omniret train ... stop_at=3` does
    second = Trainer(config(tmp_path, dataset, out="split"), log=lambda *_: None)
    second.run()  # resumes at step 3

    def read(d):
        return [json.loads(x)["total"] for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]

    assert read("split") == read("whole")  # steps 1-3 then 4-6 after resuming: bit-identical


def test_sampler_obeys_task_and_dataset_quotas():
    pairs = [Pair(dataset=f"d{i % 3}", task=t, query={}, positive={}, id=f"{t}{i % 7}")
             for t in ("TI", "IT", "AT", "TA") for i in range(40)]  # fmt: skip
    sampler = TaskBalancedSampler(pairs, tasks_per_batch=3, per_task=5, seed=1)
    for step in range(20):
        batch = [pairs[i] for i in sampler.batch(step)]
        tasks = Counter(p.task for p in batch)
        assert len(tasks) == 3 and set(tasks.values()) == {5}
        for t in tasks:
            chosen = [p for p in batch if p.task == t]
            assert len({p.dataset for p in chosen}) == 1  # one dataset per task
            assert len({p.id for p in chosen}) == len(chosen)  # no duplicate positives
    assert sampler.batch(7) == sampler.batch(7)


def test_warmup_then_cosine_floor():
    cfg = load_train_config.__globals__["TrainConfig"](steps=100)
    cfg.optim.warmup_steps, cfg.optim.min_lr_ratio = 10, 0.1
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(10, cfg) == pytest.approx(1.0) and lr_factor(100, cfg) == pytest.approx(0.1)


def test_config_and_data_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("stepz: 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'stepz'"):
        load_train_config(tmp_path / "bad.yaml")
    (tmp_path / "p.jsonl").write_text('{"dataset": "x"}\n')
    with pytest.raises(ConfigError, match=r"p\.jsonl:1: expected dataset, task, query, positive, id"):
        read_pairs(tmp_path / "p.jsonl")
    with pytest.raises(ConfigError, match="not found"):
        read_pairs(tmp_path / "missing.jsonl")


def test_ablation_variants_change_exactly_their_setting(tmp_path):
    from omniret.config import load_config
    from omniret.train.ablate import VARIANTS, AblationRow, markdown, variant_config
    from omniret.train.config import TrainConfig

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


def test_warm_start_aligns_media_and_text_before_stage_one(tmp_path, dataset):
    cfg = config(tmp_path, dataset, steps=1, warm_start={"steps": 40, "lr": 3e-3})
    trainer = Trainer(cfg, log=lambda *_: None)
    trainer.run()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    warm = [r for r in rows if "warm_step" in r]
    assert [r["warm_step"] for r in warm] == list(range(1, 41))
    first, last = warm[:5], warm[-5:]
    assert np.mean([r["align"] for r in last]) < 0.8 * np.mean([r["align"] for r in first])
    assert np.mean([r["relational"] for r in last]) < 0.5 * np.mean([r["relational"] for r in first])
    assert rows[len(warm)]["step"] == 1  # stage 1 follows the warm start in the same log


def test_float_fields_accept_yaml_exponents(tmp_path, dataset):
    cfg = config(tmp_path, dataset, optim={"lr": "1e-4"})
    assert cfg.optim.lr == 1e-4
    with pytest.raises(ConfigError, match=r"optim\.lr: expected float"):
        config(tmp_path, dataset, optim={"lr": "fast"})


def test_mbeir_training_files_become_pairs(tmp_path):
    from omniret.datasets.writer import write_instructions, write_task
    from omniret.train.data import read_mbeir_pairs

    pool = [{"did": "9:0", "modality": "image", "img_path": "media/a.png"},
            {"did": "9:1", "modality": "text", "txt": "a red dress"}]  # fmt: skip
    queries = [{"qid": "9:7", "query_modality": "text", "query_txt": "red", "pos_cand_list": ["9:0"]},
               {"qid": "9:8", "query_modality": "image,text", "query_img_path": "media/b.png",
                "query_txt": "make it red", "pos_cand_list": ["9:0", "9:1"]}]  # fmt: skip
    write_task(tmp_path, "toy_task0", "train", queries, pool)
    write_instructions(tmp_path, [{"query_modality": "text", "cand_modality": "image", "dataset_name": "Toy",
                                   "dataset_id": "9", "prompts": ["Find the image.", "Show me a photo."]}])  # fmt: skip
    pairs = read_mbeir_pairs(tmp_path)
    assert len(pairs) == 3  # one pair per (query, positive)
    first = pairs[0]
    assert first.query == {"text": "red"} and first.positive == {"image": str(tmp_path / "media/a.png")}
    assert first.dataset == "9" and first.id == "9:0" and first.task == "text->image"
    assert first.instructions == ("Find the image.", "Show me a photo.")
    assert pairs[1].query == {"text": "make it red", "image": str(tmp_path / "media/b.png")}
    assert pairs[2].positive == {"text": "a red dress"} and pairs[2].instructions == ()
    queries[0]["pos_cand_list"] = ["9:5"]
    write_task(tmp_path, "toy_task0", "train", queries, pool)
    with pytest.raises(ConfigError, match="positive 9:5 of query 9:7 is in no candidate pool"):
        read_mbeir_pairs(tmp_path)


def test_stage_two_resumes_stage_one_with_lora_and_optionally_keeps_video_latents(tmp_path, dataset):
    from omniret.train.loop import build_model

    stage1 = Trainer(config(tmp_path, dataset, out="s1", steps=2), log=lambda *_: None).run()
    trained = build_model(config(tmp_path, dataset, out="probe", model=str(stage1))).resampler
    latents = {m: trained.modality_latents[m].detach().clone() for m in ("image", "video")}
    assert not torch.equal(latents["video"], latents["image"])
    for copy in (True, False):
        cfg = config(
            tmp_path, dataset, out=f"s2-{copy}", model=str(stage1), stage=2, init_video_from_image=copy
        )
        model = build_model(cfg)
        video = model.resampler.modality_latents["video"].detach()
        assert torch.equal(video, latents["image"] if copy else latents["video"])
        trainable = [n for n, p in model.composer.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in n for n in trainable)  # the composer trains only its adapters
    from omniret.checkpoint import save_checkpoint

    again = build_model(
        config(tmp_path, dataset, out="s3", model=str(save_checkpoint(model, tmp_path / "s2")), stage=2)
    )
    lora_layers = [m for m in again.composer.modules() if hasattr(m, "merged_adapters")]
    assert lora_layers and not any(m.merged for m in lora_layers)  # training goes on with live adapters
