from omniret import Media, Sample
from omniret.model import normalize_text, render

TEMPLATE = "Instruct: {instruction}\nQuery: {content}"


def test_uniir_text_normalisation():
    assert normalize_text("  a red shirt ") == "A red shirt."
    assert normalize_text("Is it red?") == "Is it red?"
    assert normalize_text("") == ""


def test_render_templates_queries_and_prepends_placeholders(tmp_path):
    import torch

    img = Media("image", torch.zeros(3, 2, 2))
    q = Sample(text="make it blue", media=[img], instruction="Retrieve the modified image.")
    assert (
        render(q, template=TEMPLATE) == "Instruct: Retrieve the modified image.\nQuery: <image> Make it blue."
    )
    assert render(Sample(media=[img]), template=TEMPLATE) == "<image>"  # candidates carry no instruction
    explicit = Sample(
        text="the sound <audio> then the picture <image>", media=[Media("audio", torch.zeros(1, 1)), img]
    )
    assert (
        render(explicit, template=TEMPLATE, normalize=False) == "the sound <audio> then the picture <image>"
    )
