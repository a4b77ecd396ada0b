"""A byte-level tokenizer for randomly initialised composers.

Random-weight builds (tests, `omniret params`, shape checks) have no vocabulary on disk; this
real `tokenizers` BPE model with no merges maps text to its UTF-8 bytes, so every code path
(special tokens, padding, placeholders) runs exactly as with a pretrained tokenizer.
"""

from __future__ import annotations

SPECIALS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]
BYTE_VOCAB_SIZE = len(SPECIALS) + 256


def byte_level_tokenizer(*, add_cls_sep: bool = True):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate([*SPECIALS, *alphabet])}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if add_cls_sep:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", 1), ("[SEP]", 2)],
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        unk_token="[UNK]",
        eos_token="[SEP]",
    )
