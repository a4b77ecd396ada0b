"""omniret.config: the presets load and survive their own dump, and overrides reach the dataclasses.
(The strict reader behind them, unknown keys and types, is tested in test_config_io.py.)"""

from __future__ import annotations

import pytest

from omniret.config import ConfigError, apply_overrides, dump_config, load_config, preset_names


def test_presets_exist_and_round_trip(tmp_path):
    assert {"omniret-small", "omniret-paper"} <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(dump_config(cfg))
        assert load_config(path) == cfg


def test_paper_preset_values():
    cfg = load_config("omniret-paper")
    assert (cfg.dim, cfg.resampler.num_latents) == (1536, 64)
    assert (cfg.pooler.num_latents, cfg.pooler.num_refs, cfg.pooler.num_slices) == (128, 128, 4096)
    assert (cfg.composer.lora.r, cfg.composer.lora.alpha) == (16, 64)
    assert (cfg.towers["vision"].dim, cfg.towers["vision"].grid, cfg.towers["audio"].dim) == (
        1152,
        (27, 27),
        1280,
    )


def test_overrides_apply_typed_values_and_reject_unknown_keys():
    cfg = load_config("omniret-small", ["pooler.num_slices=256", "composer.bidirectional=false"])
    assert cfg.pooler.num_slices == 256 and cfg.composer.bidirectional is False
    with pytest.raises(ConfigError, match=r"'resampler\.latents'"):
        load_config("omniret-small", ["resampler.latents=3"])
    with pytest.raises(ConfigError, match="must look like"):
        apply_overrides({}, ["pooler.kind"])


def test_unknown_source_names_presets():
    with pytest.raises(ConfigError, match="omniret-small"):
        load_config("no-such-preset")
