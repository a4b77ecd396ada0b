"""Request JSON -> OmniInput, without a server: every refusal names its JSON path."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from omniret.serve.inputs import RequestError, data_uri, parse_inputs, parse_item, sniff_media
from tests.helpers.media import sine, write_audio

LIMITS = {"max_items": 4, "max_item_bytes": 1 << 16}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (255, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_strings_parts_and_lists():
    img = png()
    out = parse_inputs(["hello", uri(img, "image/png"), [{"type": "text", "text": "red"},
                        {"type": "image_url", "image_url": {"url": uri(img, "image/png")}},
                        {"type": "text", "text": "car"}]], instruction="Find it.", **LIMITS)  # fmt: skip
    assert [x.modalities() for x in out] == [("text",), ("image",), ("text", "image")]
    assert out[1].image == img and out[2].text == "red car"
    assert all(x.instruction == "Find it." for x in out)


def test_audio_in_a_container_by_its_streams(tmp_path):
    wav = write_audio(tmp_path / "a.wav", sine(440, 0.2, 16000), 16000).read_bytes()
    assert sniff_media(wav) == "audio"
    kind, data = data_uri(uri(wav, "audio/wav"), "x", 1 << 20, want="audio")
    assert (kind, data) == ("audio", wav)


@pytest.mark.parametrize(("item", "message"), [
    (3.5, r"input\[0\]: expected a string, a content part or a list of content parts, got float"),
    ([], r"input\[0\]: expected a string.*got an empty list"),
    ([{"type": "text", "text": 5}], r"input\[0\]\[0\]\.text must be a string"),
    ([{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}], r"only data:"),
    ([{"type": "input_audio", "input_audio": {"format": "wav"}}], r"input_audio\.data must be a base64 string"),
    ([{"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}], r"expected data:<mime>;base64"),
    ([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "IMG"}},
      {"type": "image_url", "image_url": {"url": "IMG"}}], r"input\[0\]\[2\]: a composed input holds at most one image"),
    ("   ", r"input\[0\]: OmniInput.text is empty"),
])  # fmt: skip
def test_refusals_name_the_path(item, message):
    img = uri(png(), "image/png")
    if isinstance(item, list):
        item = [{**p, "image_url": {"url": img}} if p.get("image_url") == {"url": "IMG"} else p for p in item]
    with pytest.raises(RequestError, match=message) as err:
        parse_inputs([item], **LIMITS)
    assert err.value.status == 400


def test_limits_are_413():
    with pytest.raises(RequestError, match="5 items; the limit is 4") as err:
        parse_inputs(["a"] * 5, **LIMITS)
    assert err.value.status == 413
    with pytest.raises(RequestError, match="per-item limit of 65,536 bytes") as err:
        parse_item("x" * 70000, "q", max_item_bytes=1 << 16)
    assert err.value.status == 413
