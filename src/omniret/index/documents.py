"""PDF documents -> searchable segments: every page as an image, and its text as passages.

A page is indexed twice over, as the production guide asks of documents. Its rendered picture is one
image row (``page{n}``), so visual document retrieval finds a page by its layout, figures, tables and
scanned text that has no text layer; its extracted text is cut into passages exactly as a text file's
are (``decompose.passages``), one text row each (``page{n}-p{i}``), so a query matches the words
themselves. Both carry the page number, and the image row a small JPEG of the page to show with a hit.

Pages are rendered with pypdfium2 (PDFium, Apache-2.0 / BSD-3-Clause) rather than PyMuPDF, whose AGPL
licence would bind the whole package. PDFium does no layout analysis: its text comes as lines (ended by
a generated ``\\r\\n``). A paragraph ends at a blank line, at a jump up the page (a new column), or at a
vertical gap between two lines that exceeds the page's usual gap (the lower median of its gaps; taken
as single spacing on a page of under five lines) by more than 0.6 line heights.
"""

from __future__ import annotations

import io
import itertools
import os
import statistics
import threading
from pathlib import Path

from omniret.extras import require
from omniret.index.decompose import Segment, passages
from omniret.inputs import OmniInput
from omniret.inputs.media import (
    CorruptMediaError,
    EmptyMediaError,
    EncryptedMediaError,
    MediaTooLargeError,
    UnreadableMediaError,
)

PDF_MAGIC = b"%PDF-"
PAGE_SIDE = 448  # px of a rendered page's long side (the image tower resizes to its own input anyway)
THUMB_SIDE, THUMB_QUALITY = 160, 80
SNIPPET_CHARS = 300
_LOCK = threading.Lock()  # PDFium is not thread-safe: one document at a time per process


def is_pdf(head: bytes) -> bool:
    """The ``%PDF-`` header within the first 1024 bytes (readers accept junk before it)."""
    return head.find(PDF_MAGIC, 0, 1024) >= 0


def pdf_segments(
    path: Path, *, max_pages: int = 2000, long_side: int = PAGE_SIDE
) -> tuple[list[Segment], float]:
    """Per page ``n`` (1-based): its image row, then its text passages; and the page count as progress
    weight. Locked, damaged, empty or over-long (``max_pages``) documents are refused naming the file;
    a page without text has its image row only, a page that fails to render its passages only. Pages are
    rendered one at a time, but the returned rows hold every page image (~0.5 MB each at 448 px)."""
    pdfium = _pdfium()
    with _LOCK:
        doc = _open(pdfium, Path(path))
        try:
            count = len(doc)
            if count > max_pages:
                raise MediaTooLargeError(str(path), f"PDF has {count} pages, over the {max_pages}-page limit")
            segs = []
            for n in range(1, count + 1):
                segs += _page_segments(pdfium, doc, n, long_side)
        finally:
            doc.close()
    if not segs:
        raise CorruptMediaError(str(path), f"none of the PDF's {count} pages could be rendered or read")
    return segs, float(count)


def _pdfium():
    return require("index", "pypdfium2")


def _open(pdfium, path: Path):
    """The opened document. Loaded through PDFium's own call: pypdfium2 reports a document without pages
    as a failure with a stale error code, so "empty" and "damaged" could not be told apart."""
    raw = pdfium.raw
    if not path.is_file():
        raise UnreadableMediaError(str(path), "file not found" if not path.exists() else "not a file")
    handle = raw.FPDF_LoadDocument(os.fsencode(path) + b"\0", None)
    if not handle:
        code = raw.FPDF_GetLastError()
        if code == raw.FPDF_ERR_PASSWORD:
            raise EncryptedMediaError(
                str(path), "PDF is encrypted (password protected): cannot read its pages"
            )
        if code == raw.FPDF_ERR_SECURITY:
            raise EncryptedMediaError(str(path), "PDF is encrypted with an unsupported security scheme")
        if code == raw.FPDF_ERR_FILE:
            raise UnreadableMediaError(str(path), "cannot open the file (PDFium: file access error)")
        reason = pdfium.internal.ErrorToStr.get(code, f"error {code}")
        raise CorruptMediaError(str(path), f"damaged PDF (pdfium: {reason})")
    if raw.FPDF_GetPageCount(handle) < 1:
        raw.FPDF_CloseDocument(handle)
        raise EmptyMediaError(str(path), "PDF has no pages")
    return pdfium.PdfDocument(handle)


MIN_LETTERS = 3


def _page_segments(pdfium, doc, n: int, long_side: int) -> list[Segment]:
    """Page ``n``'s image row (when it renders) and passage rows; the page is closed before returning."""
    page = doc[n - 1]
    try:
        text, image = _text(pdfium, page), _render(pdfium, page, long_side)
    finally:
        page.close()
    segs = []
    if image is not None:
        segs.append(Segment(f"page{n}", None, None, OmniInput(image=image), text=_snippet(text), page=n,
                            thumbnail=_thumbnail(image)))  # fmt: skip
    # a passage of page furniture only ("1", "- 12 -") says nothing: fewer than 3 letters is dropped
    for i, p in enumerate(q for q in passages(text) if sum(c.isalpha() for c in q) >= MIN_LETTERS):
        segs.append(Segment(f"page{n}-p{i}", None, None, OmniInput(text=p[:4000]), text=p, page=n))
    return segs


def _render(pdfium, page, long_side: int):
    """The page as an RGB PIL image whose long side is ``long_side`` px, or None when PDFium cannot draw it."""
    width, height = page.get_size()
    try:
        bitmap = page.render(scale=long_side / max(width, height, 1.0))
    except (pdfium.PdfiumError, ValueError, OSError):
        return None
    try:
        return bitmap.to_pil().convert("RGB")  # a copy: the bitmap's buffer is freed right away
    finally:
        bitmap.close()


def _text(pdfium, page) -> str:
    try:
        textpage = page.get_textpage()
    except pdfium.PdfiumError:
        return ""  # no text layer PDFium can read: the page image still stands for it
    try:
        return page_text(pdfium, textpage)
    finally:
        textpage.close()


def page_text(pdfium, textpage) -> str:
    """The page's text: whitespace collapsed within lines, empty lines dropped, paragraphs (module
    docstring) a blank line apart."""
    lines = _lines(pdfium, textpage)
    gaps = [a[1] - b[0] for a, b in itertools.pairwise([ln for ln in lines if ln])]
    usual = max(statistics.median_low(gaps), 0.0) if len(gaps) >= 4 else 0.0  # too few lines: single-spaced
    out, prev = [], None
    for line in lines:
        if not line:
            prev = None  # a blank line: the next line starts a paragraph
            continue
        if out and (prev is None or _new_paragraph(prev, line, usual)):
            out.append("")
        out.append(line[2])
        prev = line
    return "\n".join(out)


def _new_paragraph(prev: tuple, line: tuple, usual: float) -> bool:
    gap, height = prev[1] - line[0], max(prev[0] - prev[1], line[0] - line[1])
    return gap > usual + 0.6 * height or gap < -1.5 * height


def _lines(pdfium, textpage) -> list[tuple[float, float, str]]:
    """(top, bottom, text) of each line PDFium reports, in its reading order; ``()`` for a blank one."""
    raw = pdfium.raw
    lines, chars, top, bottom = [], [], float("-inf"), float("inf")
    for i in range(textpage.count_chars()):
        code = raw.FPDFText_GetUnicode(textpage, i)
        if code == 0x0A:
            text = " ".join("".join(chars).split())
            lines.append((top, bottom, text) if text else ())
            chars, top, bottom = [], float("-inf"), float("inf")
        elif 0x20 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF and code not in (0xFFFE, 0xFFFF):
            ch = chr(code)
            chars.append(ch)
            if not ch.isspace():
                _, low, _, high = textpage.get_charbox(i, loose=True)  # the font's box: even per line
                top, bottom = max(top, high), min(bottom, low)
        elif code == 0x09:
            chars.append(" ")
    text = " ".join("".join(chars).split())
    lines.append((top, bottom, text) if text else ())
    return lines


def _snippet(text: str) -> str | None:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat or None
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"


def _thumbnail(image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=THUMB_QUALITY)
    return buf.getvalue()


def row_modality(segment, modality: str) -> str:
    """A row's modality: its file's, except for a PDF, whose rows are page images and text passages. (A
    page image's ``text`` is a snippet to show, not its content: only text rows are found by their text.)"""
    if modality == "document":
        return "image" if segment.input is not None and segment.input.image is not None else "text"
    return modality


def textless_pages(segments: list[Segment]) -> list[int]:
    """Pages with an image row but no passage: nothing on them can be found by words."""
    shown = {s.page for s in segments if s.input is not None and s.input.image is not None}
    worded = {s.page for s in segments if s.input is not None and s.input.text is not None}
    return sorted(shown - worded)


def describe_pages(pages: list[int]) -> str:
    """[1, 2, 3, 7] -> 'pages 1-3, 7'; [4] -> 'page 4'."""
    runs: list[list[int]] = []
    for p in pages:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs]
    return ("pages " if len(pages) > 1 else "page ") + ", ".join(parts)
