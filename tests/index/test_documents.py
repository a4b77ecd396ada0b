"""``index/documents.py``: a PDF cut into one image row per page (with a JPEG thumbnail and a text snippet)
plus the page's text as passages; locked, damaged, empty and over-long PDFs refused naming the file.
Every PDF is written by the test itself (``tests/helpers/pdf.py``), so the text on each page is known."""

from __future__ import annotations

import io
import sys

import pytest
from PIL import Image

from omniret.extras import MissingExtraError
from omniret.index.documents import PDF_MAGIC, describe_pages, is_pdf, pdf_segments, textless_pages
from omniret.inputs.media import (
    CorruptMediaError,
    EmptyMediaError,
    EncryptedMediaError,
    MediaError,
    MediaTooLargeError,
    UnreadableMediaError,
)
from tests.helpers.pdf import (
    FILLED_RECTANGLE,
    encrypted_pdf,
    make_pdf,
    pdf_bytes,
    text_content,
    truncated_pdf,
)

PAGE1 = ("Alpha bravo charlie", "delta   echo")  # two lines of one paragraph (a run of spaces in the second)
PAGE2 = ("Hotel india juliet",)


def words(text: str) -> set[str]:
    return set(text.split())


def test_each_page_is_an_image_row_followed_by_its_own_passages(tmp_path):
    pdf = make_pdf(tmp_path / "two.pdf", [text_content(*PAGE1), text_content(*PAGE2)])
    segs, weight = pdf_segments(pdf)
    assert [(s.segment_id, s.page) for s in segs] == [
        ("page1", 1),
        ("page1-p0", 1),
        ("page2", 2),
        ("page2-p0", 2),
    ]
    assert weight == 2.0  # progress: one unit per page
    assert all(s.t0 is None and s.t1 is None for s in segs)
    by_id = {s.segment_id: s for s in segs}
    assert by_id["page1-p0"].text == "Alpha bravo charlie\ndelta echo"  # whitespace collapsed within a line
    assert words(by_id["page1-p0"].text) == words(" ".join(PAGE1))  # this page's words and no other's
    assert words(by_id["page2-p0"].text) == words(" ".join(PAGE2))
    for s in (by_id["page1-p0"], by_id["page2-p0"]):
        assert s.input.text == s.text and s.input.image is None and s.thumbnail is None
    assert by_id["page1"].text == "Alpha bravo charlie delta echo"  # the snippet shown with a page hit
    assert by_id["page2"].text == "Hotel india juliet"


def test_a_page_image_is_rgb_with_a_448_px_long_side_and_a_small_jpeg_thumbnail(tmp_path):
    pdf = make_pdf(tmp_path / "one.pdf", [text_content("Kilo lima")])
    page = pdf_segments(pdf)[0][0]
    image = page.input.image
    assert isinstance(image, Image.Image) and image.mode == "RGB"
    assert abs(max(image.size) - 448) <= 1
    assert abs(image.size[0] / image.size[1] - 612 / 792) < 0.01  # US Letter portrait, not distorted
    assert image.getpixel((5, 5)) == (255, 255, 255)  # a white page; the text is dark
    assert image.convert("L").getextrema()[0] < 128
    assert page.input.text is None
    assert page.thumbnail[:2] == b"\xff\xd8"  # JPEG
    thumb = Image.open(io.BytesIO(page.thumbnail))
    assert thumb.format == "JPEG" and max(thumb.size) <= 160


def test_paragraphs_follow_blank_lines_and_wide_gaps(tmp_path):
    """A blank line on the page (a wide vertical gap: PDFs have no blank-line character) splits paragraphs;
    short paragraphs still share one passage, as in a text file; double spacing is no paragraph break."""
    pdf = make_pdf(tmp_path / "p.pdf", [text_content("Mike november", "oscar papa", "", "Quebec romeo")])
    rows = [s for s in pdf_segments(pdf)[0] if s.segment_id.startswith("page1-p")]
    assert [s.text for s in rows] == ["Mike november\noscar papa\n\nQuebec romeo"]
    line = ("sierra " * 10).strip()  # 69 characters; 7 lines: a 489-character paragraph
    pdf = make_pdf(tmp_path / "q.pdf", [text_content(*[line] * 7, "", *[line] * 7)])
    rows = [s for s in pdf_segments(pdf)[0] if s.segment_id.startswith("page1-p")]
    assert [s.segment_id for s in rows] == ["page1-p0", "page1-p1"]  # 489 + 489 > 800: two passages
    assert all(s.text == "\n".join([line] * 7) for s in rows)
    double = make_pdf(tmp_path / "d.pdf", [text_content(*[f"line {i}" for i in range(6)], leading=28)])
    assert pdf_segments(double)[0][1].text == "\n".join(f"line {i}" for i in range(6))


def test_an_image_only_page_has_its_page_row_and_no_passage(tmp_path):
    pdf = make_pdf(tmp_path / "mixed.pdf", [FILLED_RECTANGLE, text_content("Tango uniform")])
    segs, _ = pdf_segments(pdf)
    assert [s.segment_id for s in segs] == ["page1", "page2", "page2-p0"]
    assert segs[0].page == 1 and segs[0].text is None and segs[0].thumbnail[:2] == b"\xff\xd8"
    blue = segs[0].input.image.getpixel((int(150 * 448 / 792), int((792 - 200) * 448 / 792)))
    assert blue[2] > 200 and blue[0] < 60  # the drawn square is on the page image
    only_images = make_pdf(tmp_path / "scan.pdf", [FILLED_RECTANGLE, FILLED_RECTANGLE])
    assert [s.segment_id for s in pdf_segments(only_images)[0]] == ["page1", "page2"]  # no error


def test_pdf_content_is_detected_by_its_magic_even_after_junk():
    data = pdf_bytes([text_content("Victor")])
    assert data.startswith(PDF_MAGIC)
    assert is_pdf(data)
    assert is_pdf(b"\x00junk before the header\n" * 20 + data)  # up to 1 KiB of junk is allowed
    assert not is_pdf(b"x" * 1024 + data)  # the header must start within the first 1024 bytes
    assert not is_pdf(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert not is_pdf(b"Just a note that mentions PDF files.\n")
    assert not is_pdf(b"")


def test_an_encrypted_pdf_is_refused_naming_the_file(tmp_path):
    pdf = encrypted_pdf(tmp_path / "locked.pdf", [text_content("Whiskey xray")])
    with pytest.raises(
        EncryptedMediaError, match=r"locked\.pdf: PDF is encrypted \(password protected\)"
    ) as err:
        pdf_segments(pdf)
    assert isinstance(err.value, MediaError) and err.value.source == str(pdf)
    # only an owner password (restricting editing, say) and an empty user password: readers open it
    opened = encrypted_pdf(tmp_path / "restricted.pdf", [text_content("Whiskey xray")], password="")
    assert [s.text for s in pdf_segments(opened)[0]] == ["Whiskey xray", "Whiskey xray"]


def test_a_truncated_pdf_is_corrupt_naming_the_file(tmp_path):
    pdf = truncated_pdf(tmp_path / "cut.pdf", [text_content("Yankee"), text_content("Zulu")])
    with pytest.raises(CorruptMediaError, match=r"cut\.pdf: damaged PDF \(pdfium: .+\)"):
        pdf_segments(pdf)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\nnothing else\n")
    with pytest.raises(CorruptMediaError, match=r"junk\.pdf: damaged PDF"):
        pdf_segments(junk)


def test_empty_missing_and_over_long_pdfs_are_refused(tmp_path):
    with pytest.raises(EmptyMediaError, match=r"empty\.pdf: PDF has no pages"):
        pdf_segments(make_pdf(tmp_path / "empty.pdf", []))
    with pytest.raises(UnreadableMediaError, match=r"absent\.pdf: file not found"):
        pdf_segments(tmp_path / "absent.pdf")
    three = make_pdf(tmp_path / "three.pdf", [text_content(w) for w in ("one", "two", "three")])
    with pytest.raises(MediaTooLargeError, match=r"three\.pdf: PDF has 3 pages, over the 2-page limit"):
        pdf_segments(three, max_pages=2)
    assert len(pdf_segments(three, max_pages=3)[0]) == 6


def test_a_page_that_fails_to_render_keeps_its_text_and_the_other_pages(tmp_path, monkeypatch):
    import pypdfium2

    render, calls = pypdfium2.PdfPage.render, []

    def first_fails(page, **kwargs):
        calls.append(page)
        if len(calls) == 1:
            raise pypdfium2.PdfiumError("Failed to render page.")
        return render(page, **kwargs)

    monkeypatch.setattr(pypdfium2.PdfPage, "render", first_fails)
    pdf = make_pdf(tmp_path / "two.pdf", [text_content(*PAGE1), text_content(*PAGE2)])
    assert [s.segment_id for s in pdf_segments(pdf)[0]] == ["page1-p0", "page2", "page2-p0"]
    calls.clear()
    scan = make_pdf(tmp_path / "scan.pdf", [FILLED_RECTANGLE])  # no text, and its one page will not render
    with pytest.raises(
        CorruptMediaError, match=r"scan\.pdf: none of the PDF's 1 pages could be rendered or read"
    ):
        pdf_segments(scan)


def test_without_pypdfium2_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # importing it now fails
    with pytest.raises(
        MissingExtraError, match=r"'index' extra \(missing: pypdfium2\).*pip install 'omniret\[index\]'"
    ):
        pdf_segments(make_pdf(tmp_path / "a.pdf", [text_content("Alpha")]))


def test_a_passage_of_page_furniture_only_is_dropped(tmp_path):
    """A page number alone ("1") is no passage; a page with words keeps them (3+ letters)."""
    pdf = make_pdf(tmp_path / "n.pdf", [text_content("12"), text_content("Ok", "", "Harbour")])
    rows = [(s.segment_id, s.text) for s in pdf_segments(pdf)[0] if s.input.text is not None]
    assert rows == [("page2-p0", "Ok\n\nHarbour")]


def test_textless_pages_are_named_in_runs(tmp_path):
    pdf = make_pdf(
        tmp_path / "scan.pdf", [FILLED_RECTANGLE, FILLED_RECTANGLE, text_content("Words"), FILLED_RECTANGLE]
    )
    assert textless_pages(pdf_segments(pdf)[0]) == [1, 2, 4]
    assert describe_pages([1, 2, 4]) == "pages 1-2, 4"
    assert describe_pages([7]) == "page 7" and describe_pages([1, 2, 3, 7, 8]) == "pages 1-3, 7-8"
