"""omniret.instructions: a query without its own instruction gets the model's trained words, naming
the one modality asked for, or the generic sentence for a search over several."""

from __future__ import annotations

from omniret.config import QueryInstructionConfig
from omniret.instructions import default_instruction, target_modality

WORDS = QueryInstructionConfig(generic="Retrieve the item that matches the query.",
                               target="Retrieve {article} {modality} that matches the query.")  # fmt: skip


def test_default_instruction_names_one_target_modality_or_falls_back_to_generic():
    assert default_instruction(WORDS, ["image"]) == "Retrieve an image that matches the query."
    assert default_instruction(WORDS, ["audio"]) == "Retrieve an audio clip that matches the query."
    assert default_instruction(WORDS, ["video"]) == "Retrieve a video that matches the query."
    assert default_instruction(WORDS, ["image", "text"]) == "Retrieve an image that matches the query."
    assert default_instruction(WORDS, ["image", "audio"]) == WORDS.generic
    assert default_instruction(WORDS, None) == WORDS.generic
    assert target_modality(["text"]) == "text"
    assert default_instruction(QueryInstructionConfig(), ["image"]) is None  # a model trained without them


def test_the_target_is_the_one_medium_whatever_the_order_repeats_or_unknown_names():
    assert target_modality(("text", "audio", "audio")) == "audio"
    assert target_modality(["smell", "video"]) == "video"  # names the model does not know are ignored
    assert target_modality(["smell"]) is None and target_modality([]) is None
    assert target_modality(["video", "image"]) is None  # two media: no single target


def test_a_model_with_only_one_of_the_two_sentences():
    generic_only = QueryInstructionConfig(generic="Find it.")
    assert default_instruction(generic_only, ["image"]) == "Find it."  # no template: the generic words
    target_only = QueryInstructionConfig(target="Get {article} {modality}.")
    assert default_instruction(target_only, ["text"]) == "Get a text."
    assert default_instruction(target_only, ["audio", "image"]) is None
