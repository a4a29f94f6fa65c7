"""Documents the upload checks accept, built here so no test depends on a stored file."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from disputes.uploads import CheckedFile, UploadRejected, check_uploads


def pdf_bytes(total_size: int | None = None, *, catalog_extra: bytes = b"") -> bytes:
    """A valid one-page PDF, written byte by byte with correct offsets; total_size pads it with
    a comment line after the header (the offsets in its cross-reference table stay right, so a
    PDF reader still parses it); catalog_extra goes into its catalog as written, so names can be
    spelt as no generator would."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R "
        + (catalog_extra + b" " if catalog_extra else b"")
        + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]

    def build(padding: bytes) -> bytes:
        body = b"%PDF-1.4\n" + padding
        offsets = []
        for number, obj in enumerate(objects, start=1):
            offsets.append(len(body))
            body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
        xref_at = len(body)
        body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        body += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
        return body + b"startxref\n%d\n%%%%EOF\n" % xref_at

    plain = build(b"")
    if total_size is None:
        return plain
    # The padding shifts every offset, so the startxref number may gain a digit: build twice.
    padded = build(b"%" + b"0" * (total_size - len(plain) - 2) + b"\n")
    return build(b"%" + b"0" * (total_size - len(plain) - 2 - (len(padded) - total_size)) + b"\n")


PDF = pdf_bytes()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    """A file as a browser sends it: the type it claims says nothing (the checks read bytes)."""
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def check_one(name: str, content: bytes) -> CheckedFile:
    [checked] = check_uploads([upload(name, content)])
    return checked


def rejection(name: str, content: bytes) -> str:
    """The message a refused file gets, on the form's documents field."""
    with pytest.raises(UploadRejected) as raised:
        check_uploads([upload(name, content)])
    assert raised.value.code == "upload_rejected"
    assert raised.value.field == "documents"
    return raised.value.message
