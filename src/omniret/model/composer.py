"""The composer: a Hugging Face transformer reading instruction, text and media tokens.

Media placeholders are spliced LLaVA-style at the embedding layer: each ``<image>``, ``<audio>``
or ``<video>`` is replaced by that item's M resampled tokens. Decoder LLMs can run with full
(bidirectional) attention, which Omni-Embed-Nemotron found better for embeddings than causal.
LoRA comes from peft, never hand-written.
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

from omniret._quiet import quiet_transformers
from omniret.assets import resolve
from omniret.config import ComposerConfig, LoraConfig
from omniret.inputs.sample import PLACEHOLDER
from omniret.model.bert import load_native_bert
from omniret.model.tokenizer import BYTE_VOCAB_SIZE, byte_level_tokenizer


class Composer(nn.Module):
    """Wraps any HF model that accepts ``inputs_embeds`` (BERT family, Qwen2, Llama, ...).

    Args:
        backbone: the transformer (e.g. ``BertModel``, ``Qwen2Model``).
        tokenizer: its tokenizer; special tokens it adds around a text are added around the whole input.
        bidirectional: full attention; for decoder backbones this switches off the causal mask.
        max_length: cap on text tokens per input (media tokens are never truncated).
        append_eos: append the EOS token when the tokenizer does not (last-token pooling for LLMs).
    """

    def __init__(
        self,
        *,
        backbone: nn.Module,
        tokenizer,
        bidirectional: bool = True,
        max_length: int = 512,
        append_eos: bool = False,
    ) -> None:
        super().__init__()
        self.backbone, self.tokenizer, self.max_length = backbone, tokenizer, max_length
        self.is_decoder = any(getattr(m, "is_causal", False) is True for m in backbone.modules())
        if not bidirectional and not self.is_decoder:
            raise ValueError(
                f"{type(backbone).__name__} is an encoder; causal attention needs a decoder backbone"
            )
        self.bidirectional = bidirectional
        if bidirectional and self.is_decoder:
            for module in backbone.modules():
                if hasattr(module, "is_causal"):
                    module.is_causal = False
        self.prefix_ids, self.suffix_ids = _special_ids(tokenizer, append_eos)
        self.has_lora = False

    @classmethod
    def from_config(
        cls, cfg: ComposerConfig, *, dim: int, load_weights: bool = True, native: bool = False
    ) -> Composer:
        """``native``: a plain BERT composer for inference is built without transformers
        (``model/bert.py``; ``OMNIRET_NATIVE_COMPOSER=0`` turns that off); anything else, or
        training, goes through transformers."""
        native_parts = None
        native = native and os.environ.get("OMNIRET_NATIVE_COMPOSER", "1") != "0"  # "0": transformers always
        if native and load_weights and cfg.path is not None:
            native_parts = load_native_bert(resolve(cfg.path, what="composer.path"))
        backbone, tokenizer = native_parts or load_backbone(cfg, load_weights=load_weights)
        if backbone.config.hidden_size != dim:
            raise ValueError(f"composer hidden size {backbone.config.hidden_size} != model dim {dim}")
        composer = cls(
            backbone=backbone,
            tokenizer=tokenizer,
            bidirectional=cfg.bidirectional,
            max_length=cfg.max_length,
            append_eos=cfg.append_eos,
        )
        if cfg.gradient_checkpointing:
            backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return composer

    @property
    def dim(self) -> int:
        return self.base_model.config.hidden_size

    @property
    def base_model(self) -> nn.Module:
        """The underlying transformer (unwrapped from peft when LoRA is on)."""
        return self.backbone.get_base_model() if self.has_lora else self.backbone

    def add_lora(self, cfg: LoraConfig) -> None:
        """Wrap the backbone with peft LoRA; afterwards only adapter weights are trainable in it."""
        if self.has_lora:
            return
        from peft import LoraConfig as PeftLoraConfig
        from peft import get_peft_model

        peft_cfg = PeftLoraConfig(
            r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=cfg.target_modules
        )
        with warnings.catch_warnings():  # peft probes a transformers API that 5.x deprecates
            warnings.filterwarnings("ignore", category=FutureWarning)
            self.backbone = get_peft_model(self.backbone, peft_cfg)
        self.has_lora = True

    def merge_lora(self) -> None:
        """Fold the adapters into the backbone's linear weights for inference: the same outputs without
        two extra low-rank matmuls per layer. peft keeps the adapter tensors (so the weights hash is
        unchanged), but a merged composer must not be trained further (its adapters get no gradient)."""
        if self.has_lora:
            self.backbone.base_model.merge_adapter()

    def embed(self, texts: list[str], media: list[list[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings with media spliced at placeholders -> (B, T, D) embeds, (B, T) bool mask."""
        table = self.base_model.get_input_embeddings()
        rows = []
        for text, items in zip(texts, media, strict=True):
            pieces = self._pieces(text, items)
            ids = [p for p in pieces if not isinstance(p, torch.Tensor)]
            flat = torch.tensor([i for p in ids for i in p], dtype=torch.long, device=table.weight.device)
            emb = iter(table(flat).split([len(p) for p in ids]))
            rows.append(torch.cat([p if isinstance(p, torch.Tensor) else next(emb) for p in pieces]))
        return _pad_right(rows)

    def _pieces(self, text: str, items: list[torch.Tensor]) -> list:
        """Split ``text`` at placeholders into token-id lists and media tensors (M, D)."""
        parts = PLACEHOLDER.split(text)  # [text, modality, text, modality, ..., text]
        chunks, budget = [], self.max_length
        for chunk in parts[0::2]:
            ids = self.tokenizer(chunk, add_special_tokens=False)["input_ids"] if chunk.strip() else []
            chunks.append(ids[: max(budget, 0)])
            budget -= len(chunks[-1])
        if len(items) != len(parts) // 2:
            raise ValueError(f"{len(parts) // 2} placeholders in {text!r} but {len(items)} media items")
        pieces: list = [list(self.prefix_ids)]
        for i, ids in enumerate(chunks):
            pieces.append(ids)
            if i < len(items):
                pieces.append(items[i])
        pieces.append(list(self.suffix_ids))
        return pieces

    def forward(self, texts: list[str], media: list[list[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Rendered inputs with their media tokens -> hidden states (B, T, D) and mask (B, T)."""
        embeds, mask = self.embed(texts, media)
        lengths = mask.sum(1).tolist()
        limit = getattr(self.base_model.config, "max_position_embeddings", None)
        if limit and embeds.shape[1] > limit:  # absolute positions (BERT): fail clearly, not deep inside HF
            raise ValueError(
                f"a composer input has {max(lengths)} tokens (text + media tokens) but the composer "
                f"({type(self.base_model).__name__}) has {limit} positions; shorten the input or keep the "
                "media resampler on (resampler.kind: shared), which gives every media item a fixed token count"
            )
        buckets = length_buckets(lengths)
        if len(buckets) <= 1:
            return self._hidden(embeds, mask), mask
        outs = []
        for rows in buckets:  # each bucket is padded only to its own longest input (its first row)
            n = lengths[rows[0]]
            out = self._hidden(embeds[rows, :n], mask[rows, :n])  # (b, n, D)
            # (b, T, D): right-padded back to the batch length; padded positions are masked downstream
            outs.append(nn.functional.pad(out, (0, 0, 0, embeds.shape[1] - n)))
        order = torch.tensor([i for rows in buckets for i in rows])
        return torch.cat(outs)[torch.argsort(order)], mask  # back to the input order

    def _hidden(self, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.backbone(
            inputs_embeds=embeds, attention_mask=self._attention_mask(embeds, mask)
        ).last_hidden_state

    def _attention_mask(self, embeds: torch.Tensor, mask: torch.Tensor):
        if not (self.is_decoder and self.bidirectional):
            return mask.long()
        # Decoder LLMs accept a prepared mask mapping; a bidirectional padding mask replaces the causal one.
        from transformers.masking_utils import create_bidirectional_mask

        full = create_bidirectional_mask(
            config=self.base_model.config, inputs_embeds=embeds, attention_mask=mask.long()
        )
        return {"full_attention": full, "sliding_attention": full}


def length_buckets(lengths: list[int], *, max_padding: float = 0.5) -> list[list[int]]:
    """Row indices grouped by length so that each group's padding is at most ``max_padding`` of its
    real tokens. One long input (a 200-token Asterisk transcript among 16-token image prompts) would
    otherwise pad all 90 rows of a training batch to its length: 12x the composer's compute, and
    13 GB of saved activations in a stage-2 step that was killed for running out of memory."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    buckets: list[list[int]] = []
    real = 0
    for i in order:
        if buckets and (len(buckets[-1]) + 1) * lengths[buckets[-1][0]] <= (1 + max_padding) * (
            real + lengths[i]
        ):
            buckets[-1].append(i)
            real += lengths[i]
        else:
            buckets.append([i])
            real = lengths[i]
    return buckets


def _special_ids(tokenizer, append_eos: bool) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a text (e.g. [CLS] ... [SEP] for BERT)."""
    bare = tokenizer("x", add_special_tokens=False)["input_ids"]
    full = tokenizer("x", add_special_tokens=True)["input_ids"]
    start = next(i for i in range(len(full) - len(bare) + 1) if full[i : i + len(bare)] == bare)
    prefix, suffix = full[:start], full[start + len(bare) :]
    eos = tokenizer.eos_token_id
    if append_eos and eos is not None and (not suffix or suffix[-1] != eos):
        suffix = [*suffix, eos]
    return prefix, suffix


def _pad_right(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = [r.shape[0] for r in rows]
    out = rows[0].new_zeros(len(rows), max(lengths), rows[0].shape[-1])  # (B, T, D)
    mask = torch.zeros(len(rows), max(lengths), dtype=torch.bool, device=out.device)
    for i, (row, n) in enumerate(zip(rows, lengths, strict=True)):
        out[i, :n], mask[i, :n] = row, True
    return out, mask


def load_backbone(cfg: ComposerConfig, *, load_weights: bool = True):
    """(model, tokenizer) from a local directory or asset, or a random build of ``cfg.arch``.

    ``load_weights=False`` keeps the architecture (and tokenizer) of ``cfg.path`` with random weights.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    quiet_transformers()

    if cfg.path is not None:
        path = str(resolve(cfg.path, what="composer.path"))
        tokenizer = AutoTokenizer.from_pretrained(path)
        if load_weights:
            return AutoModel.from_pretrained(path), tokenizer
        return AutoModel.from_config(AutoConfig.from_pretrained(path)), tokenizer

    hf_cfg = AutoConfig.for_model(cfg.arch, **cfg.hf_config)
    if hf_cfg.vocab_size < BYTE_VOCAB_SIZE:
        raise ValueError(f"composer.hf_config.vocab_size must be >= {BYTE_VOCAB_SIZE} for the byte tokenizer")
    return AutoModel.from_config(hf_cfg), byte_level_tokenizer(add_cls_sep=not cfg.append_eos)
