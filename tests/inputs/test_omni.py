"""omniret.inputs.omni: ``OmniInput`` checks what it can without decoding and names the bad field.

The refusal cases came from tests/test_input_refusals.py (the encode API's inputs); problems found only
while decoding are ``MediaError``s, tested in that file and under tests/inputs/media/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omniret.errors import InputError
from omniret.inputs import InputTypeError, OmniInput

WAVE = np.zeros(1600, np.float32)

API_CASES = {
    "image with 0 width": (dict(image=np.zeros((10, 0, 3), np.uint8)), "OmniInput.image"),
    "image with 0 height": (dict(image=np.zeros((0, 10, 3), np.uint8)), "OmniInput.image"),
    "PIL image 0x0": (dict(image=Image.new("RGB", (0, 0))), "OmniInput.image"),
    "image 1-D": (dict(image=np.zeros(10, np.uint8)), "(H, W)"),
    "image 5 channels": (dict(image=np.zeros((4, 4, 5), np.uint8)), "(H, W, 1|3|4)"),
    "image of strings": (dict(image=np.array([["a"]])), "numeric"),
    "image complex": (dict(image=np.zeros((4, 4, 3), np.complex64)), "numeric"),
    "image NaN": (dict(image=np.full((4, 4, 3), np.nan, np.float32)), "NaN"),
    "image int": (dict(image=5), "OmniInput.image must be"),
    "image list": (dict(image=[[1, 2]]), "OmniInput.image must be"),
    "image empty path": (dict(image=""), "empty path"),
    "audio empty": (dict(audio=np.zeros(0, np.float32)), "no samples"),
    "audio 3-D": (dict(audio=np.zeros((2, 2, 1600), np.float32)), "OmniInput.audio"),
    "audio object dtype": (dict(audio=np.array([None] * 10)), "numeric"),
    "audio rate 0": (dict(audio=(WAVE, 0)), "sample rate"),
    "audio rate negative": (dict(audio=(WAVE, -16000)), "sample rate"),
    "audio rate NaN": (dict(audio=(WAVE, float("nan"))), "sample rate"),
    "audio rate inf": (dict(audio=(WAVE, float("inf"))), "sample rate"),
    "audio rate fractional": (dict(audio=(WAVE, 16000.5)), "sample rate"),
    "audio rate string": (dict(audio=(WAVE, "16000")), "sample rate"),
    "audio rate bool": (dict(audio=(WAVE, True)), "sample rate"),
    "audio rate absurd": (dict(audio=(WAVE, 10**12)), "sample rate"),
    "audio 3-tuple": (dict(audio=(WAVE, 16000, 1)), "(array, sample_rate)"),
    "audio list": (dict(audio=[0.0] * 10), "OmniInput.audio must be"),
    "video array": (dict(video=np.zeros((2, 4, 4, 3), np.uint8)), "OmniInput.video must be"),
    "text int": (dict(text=5), "OmniInput.text"),
    "text bytes": (dict(text=b"abc"), "OmniInput.text"),
    "text empty": (dict(text="  "), "OmniInput.text is empty"),
    "instruction int": (dict(text="a", instruction=5), "OmniInput.instruction"),
    "nothing": (dict(), "at least one of"),
    "span NaN": (dict(audio=WAVE, span=(float("nan"), 1.0)), "span"),
    "span infinite": (dict(audio=WAVE, span=(0.0, float("inf"))), "span"),
    "span reversed": (dict(audio=WAVE, span=(2.0, 1.0)), "span"),
    "span of 3": (dict(audio=WAVE, span=(0.0, 1.0, 2.0)), "span"),
    "span string": (dict(audio=WAVE, span="0-1"), "span"),
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_bad_api_inputs_are_refused_naming_the_field(case):
    kwargs, named = API_CASES[case]
    with pytest.raises(InputError) as err:
        OmniInput(**kwargs)
    assert named in str(err.value)


def test_type_errors_stay_type_errors():
    with pytest.raises(TypeError):
        OmniInput(text=5)
    with pytest.raises(ValueError):
        OmniInput(audio=(WAVE, 0))


def test_modalities_come_in_a_fixed_order_whatever_the_fields_given():
    """The signature batches inputs of one shape together, so 'text+image' and 'image+text' must be one."""
    both = OmniInput(image=b"\x89PNG", text="a cat")
    assert both.modalities() == ("text", "image") and both.signature() == "text+image"
    assert OmniInput(video="v.mp4", audio=WAVE).signature() == "audio+video"
    assert OmniInput(text="q", instruction="Find it.").signature() == "text"  # an instruction is no medium


def test_describe_names_each_field_briefly():
    x = OmniInput(text="x" * 50, image=Path("/data/cat.png"), audio=(WAVE, 8000), video=b"\x00" * 12)
    assert x.describe() == (
        f"text={'x' * 37 + '...'!r}, image=/data/cat.png, audio=(array(1600,), 8000 Hz), video=<12 bytes>"
    )
    assert OmniInput(image=np.zeros((2, 3), np.uint8)).describe() == "image=array(2, 3) uint8"


def test_accepted_values_are_kept_and_a_span_list_becomes_a_tuple():
    x = OmniInput(audio=(WAVE, np.int64(22050)), span=[0, 1.5])
    assert x.span == (0, 1.5) and isinstance(x.span, tuple)  # hashable, as batching needs
    assert OmniInput(image=Image.new("RGB", (1, 1))).modalities() == ("image",)
    assert OmniInput(audio=np.zeros((10, 2), np.int16)).audio.shape == (10, 2)  # (n, channels), integer PCM
    assert OmniInput(text="", image="a.png").text == ""  # empty text is fine beside a medium


def test_type_problems_are_input_type_errors():
    """One class for both kinds of caller: the CLI catches InputError, Python code may catch TypeError."""
    with pytest.raises(InputTypeError, match=r"OmniInput\.instruction must be a str, got int") as err:
        OmniInput(text="a", instruction=5)
    assert isinstance(err.value, InputError) and isinstance(err.value, TypeError)
    with pytest.raises(InputTypeError, match=r"sample rate must be a number of Hz, got '16000'"):
        OmniInput(audio=(WAVE, "16000"))
    with pytest.raises(InputError, match=r"whole number of Hz in 1\.\.1000000, got 1000001"):
        OmniInput(audio=(WAVE, 1_000_001))
