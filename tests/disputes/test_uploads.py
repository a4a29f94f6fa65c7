"""disputes/uploads.py: documents are judged by their bytes, never by their names.

Every file is made here in code: real PDFs, JPEGs, PNGs and HEICs, and the broken, disguised
and oversized ones the checks exist for. Nothing touches the database.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib

import pillow_heif
import pytest
from PIL import Image, ImageFile

from disputes.uploads import (
    MAX_FILE_SIZE,
    MAX_FILES,
    CheckedFile,
    UploadRejected,
    check_uploads,
    sniff_content_type,
)
from tests.documents import check_one, pdf_bytes, rejection, upload

# --- A corpus made in code ------------------------------------------------------------------


def image_bytes(pillow_format: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format=pillow_format)
    return out.getvalue()


def noisy_png_bytes() -> bytes:
    """A PNG of random pixels: its pixel data is large enough to cut in the middle."""
    pixels = random.Random(0).randbytes(128 * 128)
    out = io.BytesIO()
    Image.frombytes("L", (128, 128), pixels).save(out, format="PNG")
    return out.getvalue()


def heic_bytes(size: tuple[int, int] = (40, 30), exif: Image.Exif | None = None) -> bytes:
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    extra = {"exif": exif.tobytes()} if exif is not None else {}
    Image.new("RGB", size, (200, 40, 10)).save(out, format="HEIF", quality=90, **extra)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png_bytes(width: int, height: int, *, pixel_data: bytes | None = None) -> bytes:
    """A real one-bit black PNG, compressed row by row so a huge one never sits in memory."""
    if pixel_data is None:
        compressor = zlib.compressobj(9)
        row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed pixels
        pixel_data = b"".join(compressor.compress(row) for _ in range(height))
        pixel_data += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixel_data)
        + _png_chunk(b"IEND", b"")
    )


def assert_same_picture(
    checked: CheckedFile, *, content: bytes, content_type: str, name: str
) -> None:
    """Photos are stored re-encoded (without EXIF): the same size and mode, not the same bytes."""
    assert checked.content_type == content_type
    assert checked.original_name == name
    stored = checked.content.read()
    assert checked.size == len(stored)
    assert checked.sha256 == hashlib.sha256(stored).hexdigest()
    sent, kept = Image.open(io.BytesIO(content)), Image.open(io.BytesIO(stored))
    assert (kept.size, kept.mode) == (sent.size, sent.mode)


def assert_checked(checked: CheckedFile, *, content: bytes, content_type: str, name: str) -> None:
    assert checked.content_type == content_type
    assert checked.original_name == name
    assert checked.content.read() == content
    assert checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()


@pytest.fixture
def decoded_images(monkeypatch: pytest.MonkeyPatch) -> list[Image.Image]:
    """Records every image whose pixels get decoded."""
    decoded: list[Image.Image] = []
    real_load = ImageFile.ImageFile.load

    def spying_load(self: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        decoded.append(self)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spying_load)
    return decoded


# --- Recognising a type by its first bytes ---------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmsf1\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftyphevc\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", None),  # an MP4 video
        (b"MZ\x90\x00\x03\x00\x00\x00", None),  # a Windows program
        (b"<!DOCTYPE html><html>", None),
        (b"PK\x03\x04\x14\x00", None),  # a ZIP archive, or a Word document
        (b" %PDF-1.7", None),  # the magic must come first
        (b"", None),
    ],
)
def test_content_type_is_sniffed_from_the_magic_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected


# --- Accepted documents ---------------------------------------------------------------------


def test_pdf_is_accepted_with_its_size_and_hash() -> None:
    content = pdf_bytes()

    checked = check_one("invoice.pdf", content)

    assert_checked(checked, content=content, content_type="application/pdf", name="invoice.pdf")


@pytest.mark.parametrize(
    ("pillow_format", "name", "content_type"),
    [("JPEG", "photo.jpeg", "image/jpeg"), ("PNG", "screenshot.png", "image/png")],
)
def test_real_images_are_accepted(pillow_format: str, name: str, content_type: str) -> None:
    content = image_bytes(pillow_format)

    checked = check_one(name, content)

    assert_same_picture(checked, content=content, content_type=content_type, name=name)


def test_five_files_are_accepted_in_the_order_given() -> None:
    contents = [
        pdf_bytes(),
        image_bytes("PNG"),
        image_bytes("JPEG"),
        pdf_bytes(total_size=2000),
        image_bytes("PNG", size=(3, 3)),
    ]
    names = ["a.pdf", "b.png", "c.jpg", "d.pdf", "e.png"]

    checked = check_uploads([upload(n, c) for n, c in zip(names, contents, strict=True)])

    assert [c.original_name for c in checked] == names
    assert [c.content_type for c in checked] == [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "application/pdf",
        "image/png",
    ]
    assert checked[0].sha256 == hashlib.sha256(contents[0]).hexdigest()  # PDFs as sent
    assert checked[3].sha256 == hashlib.sha256(contents[3]).hexdigest()


def test_png_named_pdf_is_accepted_as_png_and_renamed() -> None:
    content = image_bytes("PNG")

    checked = check_one("x.pdf", content)

    assert_checked(checked, content=content, content_type="image/png", name="x.png")


def test_pdf_of_exactly_10_mb_is_accepted() -> None:
    content = pdf_bytes(total_size=MAX_FILE_SIZE)
    assert len(content) == MAX_FILE_SIZE

    checked = check_one("big.pdf", content)

    assert_checked(checked, content=content, content_type="application/pdf", name="big.pdf")


def test_an_upload_already_read_is_checked_from_its_start() -> None:
    content = pdf_bytes()
    document = upload("read.pdf", content)
    document.read()

    [checked] = check_uploads([document])

    assert checked.sha256 == hashlib.sha256(content).hexdigest()


def test_an_image_of_exactly_50_million_pixels_is_accepted() -> None:
    content = blank_png_bytes(10_000, 5_000)

    checked = check_one("scan.png", content)

    assert_same_picture(checked, content=content, content_type="image/png", name="scan.png")


def test_no_files_is_no_documents() -> None:
    assert check_uploads([]) == []


# --- HEIC: converted to JPEG ---------------------------------------------------------------


def test_heic_photo_is_converted_to_jpeg() -> None:
    checked = check_one("IMG_0001.HEIC", heic_bytes(size=(40, 30)))

    converted = checked.content.read()
    assert checked.content_type == "image/jpeg"
    assert checked.original_name == "IMG_0001.jpg"
    assert converted.startswith(b"\xff\xd8\xff")
    assert checked.size == len(converted)
    assert checked.sha256 == hashlib.sha256(converted).hexdigest()
    with Image.open(io.BytesIO(converted)) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (40, 30), "RGB")


def test_converted_heic_leaves_the_photo_metadata_behind() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make; a phone's photo also carries where it was taken

    checked = check_one("IMG_0002.heic", heic_bytes(exif=exif))

    with Image.open(io.BytesIO(checked.content.read())) as image:
        assert dict(image.getexif()) == {}


def test_truncated_heic_is_rejected() -> None:
    content = heic_bytes()

    message = rejection("IMG_0003.heic", content[: len(content) // 2])

    assert "IMG_0003.heic" in message


# --- Rejected documents ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100,
        b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100,
        b"Plain text that says %PDF-1.4 somewhere\n%%EOF\n",
    ],
    ids=["html", "exe", "zip", "text"],
)
def test_other_content_behind_a_pdf_name_is_rejected(content: bytes) -> None:
    message = rejection("x.pdf", content)

    assert message == "“x.pdf” is not a PDF, JPEG or PNG file."


def test_pdf_header_without_end_of_file_marker_is_rejected() -> None:
    polyglot = b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n"

    message = rejection("statement.pdf", polyglot)

    assert message == "“statement.pdf” is not a complete PDF file."


def test_pdf_whose_end_marker_is_far_from_the_end_is_rejected() -> None:
    content = pdf_bytes() + b"\n" + b"<html>" * 1000

    assert "statement.pdf" in rejection("statement.pdf", content)


def test_jpeg_header_followed_by_garbage_is_rejected() -> None:
    content = b"\xff\xd8\xff\xe0" + random.Random(1).randbytes(2000)

    message = rejection("photo.jpg", content)

    assert message == "“photo.jpg” could not be read as an image; it may be damaged or incomplete."


def test_truncated_png_is_rejected() -> None:
    content = noisy_png_bytes()

    assert "cut.png" in rejection("cut.png", content[: len(content) // 2])


def test_truncated_jpeg_is_rejected_when_its_pixels_are_decoded() -> None:
    content = image_bytes("JPEG", size=(256, 256))

    assert "cut.jpg" in rejection("cut.jpg", content[: len(content) // 2])


def test_png_with_corrupt_pixel_data_but_valid_checksums_is_rejected() -> None:
    content = blank_png_bytes(64, 64, pixel_data=b"not zlib data at all")

    assert "broken.png" in rejection("broken.png", content)


def test_png_with_a_broken_checksum_is_rejected() -> None:
    content = blank_png_bytes(64, 64)
    end_chunk = 12  # IEND: length, type and checksum; the 4 bytes before are IDAT's checksum
    broken = content[: -end_chunk - 4] + b"\x00\x00\x00\x00" + content[-end_chunk:]

    assert "crc.png" in rejection("crc.png", broken)


def test_png_cut_after_its_pixel_data_is_rejected() -> None:
    content = blank_png_bytes(64, 64)

    assert "noend.png" in rejection("noend.png", content[:-12])


def test_empty_file_is_rejected() -> None:
    assert rejection("empty.pdf", b"") == "“empty.pdf” is empty."


def test_file_of_10_mb_and_one_byte_is_rejected() -> None:
    content = pdf_bytes(total_size=MAX_FILE_SIZE + 1)

    assert rejection("big.pdf", content) == "“big.pdf” is larger than 10 MB."


def test_six_files_are_rejected_before_any_is_read() -> None:
    documents = [upload(f"{n}.pdf", pdf_bytes()) for n in range(MAX_FILES + 1)]

    with pytest.raises(UploadRejected) as raised:
        check_uploads(documents)

    assert raised.value.message == "You can send at most 5 files at a time."
    assert all(document.tell() == 0 for document in documents)


def test_first_bad_file_is_the_one_named() -> None:
    documents = [
        upload("good.pdf", pdf_bytes()),
        upload("bad.pdf", b"<html></html>"),
        upload("empty.pdf", b""),
    ]

    with pytest.raises(UploadRejected) as raised:
        check_uploads(documents)

    assert "bad.pdf" in raised.value.message


def test_size_that_claims_too_little_cannot_make_it_read_more() -> None:
    document = upload("liar.pdf", pdf_bytes(total_size=MAX_FILE_SIZE + 5000))
    document.size = 1000

    with pytest.raises(UploadRejected) as raised:
        check_uploads([document])

    assert raised.value.message == "“liar.pdf” is larger than 10 MB."
    assert document.tell() == MAX_FILE_SIZE + 1


def test_size_that_claims_too_much_is_rejected_unread() -> None:
    document = upload("claims.pdf", pdf_bytes())
    document.size = MAX_FILE_SIZE + 1

    with pytest.raises(UploadRejected) as raised:
        check_uploads([document])

    assert raised.value.message == "“claims.pdf” is larger than 10 MB."
    assert document.tell() == 0


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (10_000, 5_001),  # just over our limit, under Pillow's own
        (10_000, 10_000),  # Pillow warns about this one
        (20_000, 20_000),  # Pillow refuses this one itself
    ],
)
def test_decompression_bomb_is_rejected_without_decoding_a_pixel(
    width: int, height: int, decoded_images: list[Image.Image]
) -> None:
    content = blank_png_bytes(width, height)
    assert len(content) < 200_000  # small enough to pass every size check

    message = rejection("bomb.png", content)

    assert message == "“bomb.png” has too many pixels: at most 50 million are accepted."
    assert decoded_images == []


def test_pillow_decompression_bomb_warning_is_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lowered so that a 40x30 image is over Pillow's warning level but under its error level.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    message = rejection("small.png", image_bytes("PNG", size=(40, 30)))

    assert message == "“small.png” has too many pixels: at most 50 million are accepted."


# --- Names fit to show ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\x.pdf", "x.pdf"),
        ("C:\\Users\\me\\Desktop\\bank statement.pdf", "bank statement.pdf"),
        ("facture\u0301.pdf", "factur\u00e9.pdf"),  # decomposed é becomes one character
        ("\x00evil.pdf", "evil.pdf"),
        ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),  # a right-to-left override
        ("line\u2028break.pdf", "linebreak.pdf"),
        ("  .hidden.pdf. ", "hidden.pdf"),
        ("Report.PDF", "Report.PDF"),
        ("scan", "scan.pdf"),
        ("Invoice 12.03.2024", "Invoice 12.03.2024.pdf"),
        ("picture.jpg", "picture.pdf"),  # the extension tells what the content is
        ("\x00\x01\x02", "document.pdf"),
        ("...", "document.pdf"),
        ("\u00e9" * 300 + ".pdf", "\u00e9" * 251 + ".pdf"),
    ],
)
def test_names_are_made_safe_to_show(name: str, expected: str) -> None:
    assert check_one(name, pdf_bytes()).original_name == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a/b/c.png", "c.png"), ("\x00evil.png", "evil.png"), ("\u200b", "document.png")],
)
def test_image_names_are_made_safe_to_show(name: str, expected: str) -> None:
    checked = check_one(name, image_bytes("PNG"))

    assert checked.original_name == expected
    assert checked.content.name == expected


def test_rejection_names_the_file_without_its_path_or_control_characters() -> None:
    message = rejection("../../secret/\x00evil.pdf", b"<html></html>")

    assert message == "“evil.pdf” is not a PDF, JPEG or PNG file."
