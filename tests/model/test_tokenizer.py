"""omniret.model.tokenizer: the byte-level tokenizer random-weight composers use in place of a vocabulary."""

from __future__ import annotations

from omniret.model.tokenizer import BYTE_VOCAB_SIZE, SPECIALS, byte_level_tokenizer


def test_ids_are_specials_then_the_sorted_byte_alphabet():
    """GPT-2's byte alphabet maps printable ASCII to itself and sorts from '!' (33): 'a' (97) is entry 64,
    id 4 + 64 after the four specials; [CLS] is 1 and [SEP] 2."""
    tok = byte_level_tokenizer()
    assert BYTE_VOCAB_SIZE == 260 and SPECIALS[0] == "[PAD]" and tok.pad_token_id == 0
    assert tok("ab")["input_ids"] == [1, 68, 69, 2]
    assert tok("!")["input_ids"] == [1, 4, 2]
    assert len(tok) == BYTE_VOCAB_SIZE


def test_one_token_per_utf8_byte_and_a_lossless_round_trip():
    tok = byte_level_tokenizer(add_cls_sep=False)
    text = "héllo wörld ✓"
    ids = tok(text)["input_ids"]
    assert len(ids) == len(text.encode()) and max(ids) < BYTE_VOCAB_SIZE  # é, ö: 2 bytes; ✓: 3 bytes
    assert tok.decode(ids) == text
    assert 3 not in ids  # no byte is unknown


def test_without_cls_sep_only_the_bytes_are_encoded_and_padding_uses_pad():
    tok = byte_level_tokenizer(add_cls_sep=False)
    assert tok("ab")["input_ids"] == [68, 69]
    batch = tok(["a", "abc"], padding=True)
    assert batch["input_ids"][0] == [68, 0, 0] and batch["attention_mask"][0] == [1, 0, 0]
    assert tok.eos_token_id == 2  # [SEP] doubles as EOS for decoder composers
