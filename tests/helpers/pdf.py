"""PDFs with known content, written by hand: the exact text (or drawing) on every page, no external tool.

``make_pdf`` writes catalog, page tree, one Helvetica (Type1, one of the 14 standard fonts) and one
content stream per page, with a correct cross-reference table. ``encrypted_pdf`` password-protects one
with pypdf (RC4, which needs no ``cryptography`` package); ``truncated_pdf`` cuts one in half.
"""

from __future__ import annotations

from pathlib import Path

FILLED_RECTANGLE = "0 0 1 rg 100 100 200 200 re f"  # a blue square: a page with no text at all


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_content(*lines: str, leading: int = 14) -> str:
    """A content stream showing ``lines`` top-down in 12 pt Helvetica; an empty line leaves a gap."""
    ops = [f"BT /F1 12 Tf {leading} TL 72 720 Td"]
    ops += [f"({_escape(line)}) Tj T*" if line else "T*" for line in lines]
    return "\n".join([*ops, "ET"])


def pdf_bytes(pages: list[str]) -> bytes:
    """A PDF whose page ``i`` draws content stream ``pages[i]`` (US Letter). No pages: a valid empty tree."""
    n = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, content in enumerate(pages):
        stream = content.encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>")  # fmt: skip
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{content}\nendstream")
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_pdf(path: Path, pages: list[str]) -> Path:
    path.write_bytes(pdf_bytes(pages))
    return path


def encrypted_pdf(path: Path, pages: list[str], password: str = "secret") -> Path:
    """``pages`` locked with a user password: nothing can be read without it."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(pages))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    with path.open("wb") as f:
        writer.write(f)
    return path


def truncated_pdf(path: Path, pages: list[str]) -> Path:
    """The first half of a valid PDF: header and some objects, no page tree, no xref, no trailer."""
    data = pdf_bytes(pages)
    path.write_bytes(data[: len(data) // 2])
    return path
