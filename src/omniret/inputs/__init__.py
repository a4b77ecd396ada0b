"""Stage one of the data flow, input -> tower features (docs/ARCHITECTURE.md).

- ``omni``: ``OmniInput``, what a user hands in (paths, bytes, arrays, text, an instruction);
- ``media``: decoding files and bytes into pixels and 16 kHz samples (needs the ``media`` extra);
- ``recipes``: the preprocessing recipes recorded with every index and checkpoint;
- ``features``: the frozen towers run over decoded media, with the content-keyed ``cache``;
- ``hints``: the towers' own words (ImageNet labels, Whisper transcripts) beside their tokens;
- ``sample``: ``Sample``/``Media``, the tensor-level form the model reads;
- ``streams``: ``OmniInput`` -> ``Sample`` lists (one per stream) and their fusion after the model.

Importing this package loads numpy and torch only; decoding and the towers load with their extras.
"""

from omniret.inputs.modality import MEDIA, Family, Modality, family_of
from omniret.inputs.omni import InputTypeError, OmniInput
from omniret.inputs.recipes import AudioRecipe, ImageRecipe, recipe_dict, recipe_hash
from omniret.inputs.sample import Media, Sample, normalize_text, render

__all__ = [
    "MEDIA",
    "AudioRecipe",
    "Family",
    "ImageRecipe",
    "InputTypeError",
    "Media",
    "Modality",
    "OmniInput",
    "Sample",
    "family_of",
    "normalize_text",
    "recipe_dict",
    "recipe_hash",
    "render",
]
