"""BERT in plain torch, for the composer of an inference checkpoint.

Importing transformers' BERT costs 3.6 s of every cold start on 2 cores (transformers 5 pulls in
``torch._dynamo`` and ``torch.distributed.tensor`` on the way), more than the whole search after it.
An inference checkpoint whose composer is a plain BERT without LoRA adapters (the shipped
``omniret-small``) only needs the encoder's forward pass, so it is built here from the same files
(``config.json``, ``model.safetensors``, ``tokenizer.json`` read with the ``tokenizers`` library) with
the module names and arithmetic of transformers' ``BertModel``; tests compare the two at 1e-5.
Training, LoRA and every other architecture keep transformers and peft (``composer.load_backbone``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

REQUIRED = {"model_type": "bert", "position_embedding_type": "absolute", "hidden_act": "gelu"}
FILES = ("config.json", "model.safetensors", "tokenizer.json")


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float


def native_config(path: Path) -> BertConfig | None:
    """The config when ``path`` holds a BERT this module reproduces exactly, else None."""
    if not all((path / f).is_file() for f in FILES):
        return None
    raw = json.loads((path / "config.json").read_text())
    defaults = {"position_embedding_type": "absolute", "hidden_act": "gelu"}
    if any(raw.get(k, defaults.get(k)) != v for k, v in REQUIRED.items()):
        return None
    return BertConfig(**{k: raw[k] for k in BertConfig.__dataclass_fields__})


class Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, inputs_embeds: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        x = inputs_embeds + self.token_type_embeddings.weight[0]  # token type 0 everywhere
        x = x + self.position_embeddings.weight[: inputs_embeds.shape[1]]
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.query, self.key, self.value = (nn.Linear(c.hidden_size, c.hidden_size) for _ in range(3))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (lin(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
                   for lin in (self.query, self.key, self.value))  # (B, H, T, d/H) each  # fmt: skip
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # keep: (B, 1, 1, T) bool
        return out.transpose(1, 2).reshape(b, t, d)


class Residual(nn.Module):
    """dense -> + input -> LayerNorm (BERT's SelfOutput and Output)."""

    def __init__(self, c: BertConfig, width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(h) + x)


class Attention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.self = SelfAttention(c)
        self.output = Residual(c, c.hidden_size)


class Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.output = Residual(c, c.intermediate_size)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        a = self.attention.output(self.attention.self(x, keep), x)
        return self.output(F.gelu(self.intermediate.dense(a)), a)


class NativeBert(nn.Module):
    """``forward(inputs_embeds=(B, T, D), attention_mask=(B, T)) -> .last_hidden_state (B, T, D)``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(self, *, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        keep = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T): padding keys are never attended
        x = self.embeddings(inputs_embeds)
        for layer in self.encoder.layer:
            x = layer(x, keep)
        return SimpleNamespace(last_hidden_state=x)


class NativeTokenizer:
    """The two calls the composer makes of a Hugging Face tokenizer, on the same ``tokenizer.json``."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer  # imported on use: the model core imports torch and numpy only

        self.backend = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.backend.no_truncation()  # as transformers does when truncation is not asked for
        self.backend.no_padding()
        special = path / "special_tokens_map.json"
        eos = json.loads(special.read_text()).get("eos_token") if special.is_file() else None
        eos = eos.get("content") if isinstance(eos, dict) else eos
        self.eos_token_id = self.backend.token_to_id(eos) if eos else None

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.backend.encode(text, add_special_tokens=add_special_tokens).ids}


def load_native_bert(path: Path) -> tuple[NativeBert, NativeTokenizer] | None:
    """(model, tokenizer) from a transformers BERT directory, or None when it is no plain BERT."""
    config = native_config(path)
    if config is None:
        return None
    from safetensors.torch import load_file  # imported on use (model core: torch and numpy only)

    state = {k.removeprefix("bert."): v for k, v in load_file(str(path / "model.safetensors")).items()}
    state = {k: v for k, v in state.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    model = NativeBert(config)
    model.load_state_dict(state, strict=True)
    return model.eval(), NativeTokenizer(path)
