"""P1: encode throughput with the shared media resampler vs feeding every tower token to the composer.

Same model, same (random) heads, only ``resampler.kind`` differs; tower outputs are fed as cached
features so the measured time is what the resampler changes (projector, resampler, composer,
pooler). Two composers: omniret-small's MiniLM (512 positions: 30 s of audio, 1500 tokens, does
not fit without the resampler) and a decoder of the same width with rotary positions.

    .venv/bin/python benchmarks/p1_resampler.py
"""

from __future__ import annotations

import torch

from _common import median_seconds, table
from omniret.config import load_config
from omniret.model import Media, OmniRet, Sample

BATCH = 8
DECODER = [
    "composer.path=null", "composer.arch=qwen2", "composer.append_eos=true",
    "composer.hf_config={vocab_size: 30522, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 6,"
    " num_key_value_heads: 6, intermediate_size: 1536, max_position_embeddings: 4096}",
]  # fmt: skip


SIGLIP = ["towers.vision.kind=stand-in", "towers.vision.path=null", "towers.vision.dim=1152",
          "towers.vision.grid=[27, 27]", "towers.vision.image_size=378"]  # fmt: skip
TOKENS = {
    "image": 49,
    "image (SigLIP grid)": 729,
    "audio 10s": 500,
    "audio 30s": 1500,
    "video (8 frames)": 196,
}


def media(kind: str) -> Media:
    """Tower-shaped features: EfficientNet 7x7x1280 per frame, Whisper 384-d at 50 tokens/s, SigLIP 27x27x1152."""
    if kind == "image":
        return Media("image", torch.randn(49, 1280), is_features=True)
    if kind == "image (SigLIP grid)":
        return Media("image", torch.randn(729, 1152), is_features=True)
    if kind == "video (8 frames)":
        return Media("video", torch.randn(8, 49, 1280), is_features=True)
    seconds = int(kind.split()[1].rstrip("s"))
    return Media("audio", torch.randn(seconds * 50, 384), is_features=True)


def throughput(model: OmniRet, kind: str) -> float:
    samples = [Sample(media=[media(kind)]) for _ in range(BATCH)]
    return BATCH / median_seconds(lambda: model.embed(samples))


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    kinds = ["image", "audio 10s", "audio 30s", "video (8 frames)"]
    rows = []
    groups = (("MiniLM (omniret-small)", [], kinds), ("decoder, same width", DECODER, kinds),
              ("decoder, SigLIP-sized image tower", DECODER + SIGLIP, ["image (SigLIP grid)"]))  # fmt: skip
    for label, extra, group_kinds in groups:
        models = {}
        for kind in ("shared", "none"):
            cfg = load_config("omniret-small", [*extra, f"resampler.kind={kind}"])
            models[kind] = OmniRet.build(cfg, load_weights=False).eval()
        for kind in group_kinds:
            tokens = TOKENS[kind]
            fits = extra or tokens + 2 <= 512
            with_r = throughput(models["shared"], kind)
            without = throughput(models["none"], kind) if fits else float("nan")
            rows.append([label, kind, f"{tokens} -> 16", with_r, without if fits else "n/a (> 512 positions)",
                         f"{with_r / without:.1f}x" if fits else "-"])  # fmt: skip
    print(f"P1: items/s at batch {BATCH} on {torch.get_num_threads()} threads (median of 5)")
    print(table(["composer", "input", "media tokens", "with resampler", "all tokens", "speed-up"], rows))


if __name__ == "__main__":
    main()
