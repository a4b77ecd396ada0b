import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.config import load_config
from omniret.params import parameter_table


def test_paper_preset_counts_bracket_the_papers_84m():
    rows = {r.component: r for r in parameter_table(load_config("omniret-paper"))}
    d = 1536
    assert rows["projectors.vision"].total == (1152 * d + d) + (d * d + d)
    assert rows["projectors.audio"].total == (1280 * d + d) + (d * d + d)
    # two blocks of 6 D^2 (q, kv, out, FF r=1) per resampler (docs/METHOD_NOTES.md §8.4)
    assert rows["resampler"].total == pytest.approx(2 * 6 * d * d, rel=0.02)
    assert rows["pooler"].total == pytest.approx(2 * 6 * d * d + d * 4096 + 128 * 4096, rel=0.02)
    assert rows["composer (frozen base)"].stage2 == 0
    assert 1.5e9 < rows["composer (frozen base)"].total < 1.6e9
    stage2 = sum(r.stage2 for r in rows.values())
    assert 77e6 < stage2 < 95e6  # docs/METHOD_NOTES.md §8.4 bracket around the paper's 84 M
    assert sum(r.stage1 for r in rows.values()) == stage2 - rows["composer LoRA adapters"].total


def test_params_cli_prints_comparison_with_paper():
    result = CliRunner().invoke(app, ["params", "omniret-paper"])
    assert result.exit_code == 0, result.output
    assert "84M" in result.output and "stage 2" in result.output


def test_cli_rejects_unknown_override_key():
    result = CliRunner().invoke(app, ["params", "omniret-small", "pooler.slices=3"])
    assert result.exit_code != 0 and "pooler.slices" in result.output


def test_config_cli_shows_overrides():
    result = CliRunner().invoke(app, ["config", "omniret-small", "pooler.num_slices=256"])
    assert result.exit_code == 0 and "num_slices: 256" in result.output


def test_cache_cli_info_evict_and_clear(tmp_path):
    import torch

    from omniret.inputs.cache import FeatureCache

    cache = FeatureCache(tmp_path)
    for i in range(3):
        cache.put(cache.key(str(i)), {"tokens": torch.zeros(10_000)})
    runner = CliRunner()
    info = runner.invoke(app, ["cache", "info", "--dir", str(tmp_path)])
    assert info.exit_code == 0 and "entries:   3" in info.output
    evict = runner.invoke(app, ["cache", "evict", "--max-mb", "0.03", "--dir", str(tmp_path)])
    assert evict.exit_code == 0 and cache.stats().entries == 1
    clear = runner.invoke(app, ["cache", "clear", "--dir", str(tmp_path)])
    assert clear.exit_code == 0 and "removed 1 entries" in clear.output and cache.stats().entries == 0
