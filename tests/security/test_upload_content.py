"""What a document carries, not only how it starts: a PDF must parse and hold no web page,
archive, script or attached file; a photo is stored without its EXIF, GPS, XMP or comments.

Every file is made here in code: with reportlab, pypdf, zipfile and Pillow, or by hand.
"""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageCms, PngImagePlugin
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from reportlab.pdfgen import canvas

from api.keys import api_key_create
from api.models import ApiUpload
from disputes.choices import Reason
from disputes.models import Attachment, Dispute
from disputes.uploads import CheckedFile
from tests.documents import check_one, pdf_bytes, rejection
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory

GPS_IFD = 0x8825
MAKE = 0x010F
ORIENTATION = 0x0112
HTML_PDF = b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n%%EOF\n"

# --- Documents made in code ------------------------------------------------------------------


def reportlab_pdf(*, compressed: bool = True) -> bytes:
    """A real one-page PDF with text, as an invoice or a shop's receipt is made."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pageCompression=1 if compressed else 0)
    page.setTitle("Receipt A-100")
    page.drawString(72, 720, "Receipt for order A-100: 1 x phone case, EUR 19.99")
    page.drawString(72, 700, "Paid by card on 3 March 2026. Thank you for your order!")
    page.showPage()
    page.save()
    return out.getvalue()


def written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def one_page_writer() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    return writer


def pdf_with_open_action(action: dict[str, str]) -> bytes:
    """A PDF that runs the action as soon as it is opened."""
    writer = one_page_writer()
    entries = {NameObject("/S"): NameObject(action["S"])}
    for key, value in action.items():
        if key != "S":
            entries[NameObject(f"/{key}")] = TextStringObject(value)
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(DictionaryObject(entries))
    return written(writer)


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", "<script>alert(1)</script>")
    return out.getvalue()


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int | None = None) -> Image.Exif:
    """EXIF as a phone writes it: the camera's make and where the photo was taken."""
    exif = Image.Exif()
    exif[MAKE] = "Camera"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (52.0, 22.0, 0.0)  # GPSLatitude
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 0.0)
    if orientation is not None:
        exif[ORIENTATION] = orientation
    return exif


def two_colour_image(size: tuple[int, int] = (20, 10)) -> Image.Image:
    """Red on the left half, blue on the right: shows which way it was turned."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return image


def jpeg_with_metadata(orientation: int | None = None, icc_profile: bytes | None = None) -> bytes:
    out = io.BytesIO()
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    two_colour_image().save(
        out,
        format="JPEG",
        exif=camera_exif(orientation),
        comment=b"taken at 12 Home Street",
        **extra,
    )
    data = out.getvalue()
    # The starting point the tests are about.
    assert b"Exif" in data
    assert b"Home Street" in data
    return data


def png_with_metadata(mode: str = "RGBA") -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "taken at 12 Home Street")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>exif:GPSLatitude 52,22N</x:xmpmeta>")
    out = io.BytesIO()
    Image.new(mode, (20, 10)).save(
        out, format="PNG", pnginfo=text, exif=camera_exif(), icc_profile=srgb_profile()
    )
    data = out.getvalue()
    for chunk in (b"tEXt", b"iTXt", b"eXIf"):
        assert chunk in data
    return data


def stored(checked: CheckedFile) -> bytes:
    """The bytes that will be stored; size and hash must describe exactly these."""
    data = checked.content.read()
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    return data


# --- PDFs that are accepted ------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [True, False], ids=["compressed", "plain-text-streams"])
def test_a_real_pdf_with_text_is_accepted_as_sent(compressed: bool) -> None:
    content = reportlab_pdf(compressed=compressed)

    checked = check_one("receipt.pdf", content)

    assert checked.content_type == "application/pdf"
    assert stored(checked) == content


def test_a_pdf_that_opens_without_a_password_is_accepted() -> None:
    # Only the owner's password is set: anyone can open and read it, as with many statements.
    writer = one_page_writer()
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    content = written(writer)

    assert stored(check_one("statement.pdf", content)) == content


# --- PDFs that are refused -------------------------------------------------------------------


WEB_PAGE = "“statement.pdf” contains web page code, which a PDF must not."
ARCHIVE = "“statement.pdf” has an archive (ZIP) hidden inside; send the document on its own."
ACTIVE = (
    "“statement.pdf” contains scripts or attached files, which are not accepted. "
    "Print it to a new PDF and send that."
)
DAMAGED = "“statement.pdf” could not be read as a PDF; it may be damaged."


def test_a_web_page_behind_a_pdf_header_is_refused() -> None:
    assert rejection("statement.pdf", HTML_PDF) == WEB_PAGE


@pytest.mark.parametrize(
    "markup",
    [
        b"<!DOCTYPE HTML>",
        b"<HTML>",
        b"<Script src=//evil.example/x.js></Script>",
        b"<body onload=alert(1)>",
        b"<iframe src=https://evil.example/>",
        b"<svg/onload=alert(1)>",
    ],
)
def test_markup_anywhere_in_an_otherwise_valid_pdf_is_refused(markup: bytes) -> None:
    # After %%EOF a reader ignores it, so the PDF still opens; a browser would run it.
    content = reportlab_pdf() + b"%" + markup + b"\n%%EOF\n"

    assert rejection("statement.pdf", content) == WEB_PAGE


def test_a_zip_appended_after_a_valid_pdf_is_refused() -> None:
    content = reportlab_pdf() + zip_bytes()
    assert zipfile.is_zipfile(io.BytesIO(content))  # zip tools open it as an archive

    assert rejection("statement.pdf", content) == ARCHIVE


def test_zip_bytes_behind_a_pdf_header_are_refused() -> None:
    content = b"%PDF-1.4\n" + zip_bytes() + b"\n%%EOF\n"

    assert rejection("statement.pdf", content) == ARCHIVE


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            pdf_with_open_action({"S": "/JavaScript", "JS": "app.alert('opened')"}),
            id="javascript-open-action",
        ),
        pytest.param(
            pdf_with_open_action({"S": "/Launch", "F": "C:\\Windows\\System32\\cmd.exe"}),
            id="launch-action",
        ),
    ],
)
def test_a_pdf_that_acts_when_opened_is_refused(content: bytes) -> None:
    assert rejection("statement.pdf", content) == ACTIVE


def test_document_level_javascript_is_refused() -> None:
    writer = one_page_writer()
    writer.add_open_action(JavaScript("this.print({bUI: false, bSilent: true});"))

    assert rejection("statement.pdf", written(writer)) == ACTIVE


def test_a_pdf_with_an_attached_file_is_refused() -> None:
    writer = one_page_writer()
    writer.add_attachment("invoice.exe", b"MZ\x90\x00")

    assert rejection("statement.pdf", written(writer)) == ACTIVE


def test_javascript_spelt_with_escapes_is_found_in_the_parsed_pdf() -> None:
    # "#61" is "a" and "#53" is "S": a viewer reads /JavaScript and /JS, a byte search does not.
    content = pdf_bytes(catalog_extra=b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>")
    assert b"/JavaScript" not in content
    assert b"/JS" not in content

    assert rejection("statement.pdf", content) == ACTIVE


def test_the_hand_made_pdf_is_accepted_without_the_action() -> None:
    content = pdf_bytes()

    assert stored(check_one("statement.pdf", content)) == content


def test_a_pdf_locked_with_a_password_is_refused() -> None:
    writer = one_page_writer()
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")

    message = rejection("statement.pdf", written(writer))

    assert message == (
        "“statement.pdf” is protected by a password or encryption; send a copy without it."
    )


def test_a_pdf_without_pages_is_refused() -> None:
    assert rejection("statement.pdf", written(PdfWriter())) == (
        "“statement.pdf” is a PDF without any pages."
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            b"%PDF-1.4\n" + random.Random(2).randbytes(3000) + b"\n%%EOF\n", id="random-bytes"
        ),
        pytest.param(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", id="no-objects"),
        pytest.param(reportlab_pdf()[:600] + b"\n%%EOF\n", id="cut-in-the-middle"),
        pytest.param(b"%PDF-1.7\n%%EOF\n", id="header-and-marker-only"),
    ],
)
def test_a_damaged_pdf_is_refused(content: bytes) -> None:
    assert rejection("statement.pdf", content) == DAMAGED


# --- Photos: stored without their metadata ---------------------------------------------------


def test_a_jpeg_loses_its_exif_gps_and_comment() -> None:
    checked = check_one("photo.jpg", jpeg_with_metadata())

    data = stored(checked)
    assert checked.content_type == "image/jpeg"
    assert b"Exif" not in data
    assert b"Home Street" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == (20, 10)
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(GPS_IFD) == {}
        assert "comment" not in image.info


def test_a_jpeg_is_turned_upright_before_its_orientation_tag_is_dropped() -> None:
    # Orientation 6: the camera was held on its side; a viewer turns the picture clockwise.
    data = stored(check_one("sideways.jpg", jpeg_with_metadata(orientation=6)))

    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (10, 20)
        assert ORIENTATION not in image.getexif()
        upright = image.convert("RGB")
    assert upright.getpixel((5, 2)) == pytest.approx((255, 0, 0), abs=40)  # left half on top
    assert upright.getpixel((5, 17)) == pytest.approx((0, 0, 255), abs=40)


def test_a_jpeg_keeps_its_colour_profile() -> None:
    profile = srgb_profile()

    data = stored(check_one("photo.jpg", jpeg_with_metadata(icc_profile=profile)))

    assert b"Exif" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.info.get("icc_profile") == profile


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "LA", "L"])
def test_a_png_loses_its_text_xmp_and_exif_and_keeps_its_mode_and_profile(mode: str) -> None:
    checked = check_one("screenshot.png", png_with_metadata(mode))

    data = stored(checked)
    assert checked.content_type == "image/png"
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert chunk not in data
    assert b"Home Street" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", mode, (20, 10))
        assert dict(image.getexif()) == {}
        assert image.info.get("icc_profile") == srgb_profile()


def test_a_palette_png_keeps_its_transparency() -> None:
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "someone")
    out = io.BytesIO()
    image.save(out, format="PNG", transparency=1, pnginfo=text)

    data = stored(check_one("icon.png", out.getvalue()))

    assert b"tEXt" not in data
    with Image.open(io.BytesIO(data)) as stored_image:
        assert stored_image.mode == "P"
        assert stored_image.info["transparency"] == 1


def test_a_decompression_bomb_is_refused_before_anything_is_re_encoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved: list[Image.Image] = []
    real_save = Image.Image.save
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a 40x30 photo is now a bomb

    def spying_save(self: Image.Image, *args, **kwargs):  # type: ignore[no-untyped-def]
        saved.append(self)
        return real_save(self, *args, **kwargs)

    content = jpeg_with_metadata()
    monkeypatch.setattr(Image.Image, "save", spying_save)

    assert "too many pixels" in rejection("bomb.jpg", content)
    assert saved == []


# --- Through the pages and the API ---------------------------------------------------------


def stored_files(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def order(db):  # type: ignore[no-untyped-def]
    cache.clear()  # the public forms' rate limits
    merchant = MerchantFactory(name="Demo Shop", slug="demo-shop")
    MembershipFactory(merchant=merchant)
    return OrderFactory(merchant=merchant, order_number="A-100", customer_email="ann@mail.example")


@pytest.fixture
def api(db) -> Client:  # type: ignore[no-untyped-def]
    key = api_key_create(name="test", merchant=MerchantFactory(), now=timezone.now()).key
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_customer_sending_an_html_pdf_gets_the_form_back_and_nothing_is_stored(
    client, order, settings
) -> None:  # type: ignore[no-untyped-def]
    client.post(
        reverse("disputes:find-order"),
        {"shop": "demo-shop", "order_number": "A-100", "email": "ann@mail.example"},
    )

    response = client.post(
        reverse("disputes:open-dispute"),
        {
            "reason": Reason.FAULTY,
            "message": "Screen cracked on arrival.",
            "documents": [SimpleUploadedFile("receipt.pdf", HTML_PDF)],
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert "contains web page code" in page
    assert "<script>alert" not in page  # the file's content is never echoed
    assert not Dispute.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(settings) == []


def test_the_api_refuses_an_html_pdf_and_stores_nothing(api, settings) -> None:  # type: ignore[no-untyped-def]
    response = api.post("/api/v1/files", {"file": SimpleUploadedFile("receipt.pdf", HTML_PDF)})

    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "upload_rejected"
    assert "contains web page code" in error["message"]
    assert not ApiUpload.objects.exists()
    assert stored_files(settings) == []


def test_the_api_stores_a_photo_without_its_location(api) -> None:  # type: ignore[no-untyped-def]
    response = api.post(
        "/api/v1/files", {"file": SimpleUploadedFile("parcel.jpg", jpeg_with_metadata())}
    )

    assert response.status_code == 201, response.content
    upload = ApiUpload.objects.get()
    with upload.file.open("rb") as handle:
        data = handle.read()
    assert b"Exif" not in data
    assert b"Home Street" not in data
    assert upload.size == len(data)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
