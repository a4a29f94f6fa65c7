"""Checks on documents attached to a case: by what the bytes are, never by the file's name.

A PDF is kept as sent once it is complete, parses with at least one page, opens without a
password, and carries no HTML, no ZIP archive, no JavaScript, launch action or attached file:
what the other side opens can neither run code nor pass for a web page or an archive.
A JPEG or PNG is stored re-encoded from its decoded pixels, turned upright, with its colour
profile but without EXIF (the camera and where the photo was taken), XMP, text or comments;
an iPhone's HEIC photo is converted to JPEG, also without its EXIF.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import pillow_heif
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext
from PIL import Image, ImageOps
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

from .errors import DomainError

MAX_FILE_SIZE = 10 * 1024 * 1024
MAX_FILES = 5
# More pixels than this is a decompression bomb: a few KB that decode to gigabytes.
MAX_IMAGE_PIXELS = 50_000_000
ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}
HEIC = "image/heic"
# Photos are stored re-encoded (metadata left behind), HEIC converted: both as JPEG at this quality.
PHOTO_JPEG_QUALITY = 90

# PDF readers look for the end-of-file marker only in the last 1024 bytes.
PDF_TAIL = 1024
PDF_EOF = b"%%EOF"
# Markup a browser would run if it took the file for a web page. A PDF's own text sits in
# (usually compressed) content streams, never as tags, so any of these is a disguise.
_HTML_TAG = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|svg|object|embed)[\s/>]", re.IGNORECASE
)
# Names of active content, written out in the file. /JS is not searched for here: three bytes
# turn up by chance in compressed data, and a script action always also says /S /JavaScript.
_ACTIVE_NAME = re.compile(rb"/(?:JavaScript|Launch|EmbeddedFiles?)(?![^\s()<>\[\]{}/%])")
# The same, as keys or values of the parsed objects: also found in object streams or spelt
# with #xx escapes. /EF is where a file specification keeps the attached file itself.
_ACTIVE_NAMES = frozenset(
    {"/JavaScript", "/JS", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/EF"}
)

_HEIF_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}
_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", HEIC: "HEIF"}
_SUFFIXES = {
    "application/pdf": {".pdf"},
    "image/jpeg": {".jpg", ".jpeg"},
    "image/png": {".png"},
}
# A name ending in one of these claims a kind of document, so a wrong one is replaced, not kept.
_DOCUMENT_SUFFIXES = {".pdf", ".jpg", ".jpeg", ".png", ".heic", ".heif"}
_NAME_MAX_LENGTH = 255  # Attachment.original_name
_FALLBACK_STEM = "document"

# Lets Image.open read HEIC; it is only ever asked to when the content is HEIC.
pillow_heif.register_heif_opener()


class UploadRejected(DomainError):
    code = "upload_rejected"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="documents")


@dataclass(frozen=True)
class CheckedFile:
    content: ContentFile  # what to store: a PDF's bytes, or the image re-encoded without metadata
    original_name: str  # safe to show; never used as a storage path
    content_type: str
    size: int
    sha256: str


def sniff_content_type(head: bytes) -> str | None:
    """The type a file's first bytes announce, or None; its name and headers are not asked."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return HEIC
    return None


def check_uploads(files: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Check each file in order; raise UploadRejected naming the first one that fails."""
    if len(files) > MAX_FILES:
        raise UploadRejected(
            gettext("You can send at most %(count)s files at a time.") % {"count": MAX_FILES}
        )
    return [_check_file(upload) for upload in files]


def _check_file(upload: UploadedFile) -> CheckedFile:
    name = _clean_name(upload.name or "")
    shown = name or _FALLBACK_STEM
    data = _read(upload, shown)
    content_type = sniff_content_type(data[:16])
    if content_type == "application/pdf":
        _check_pdf(data, shown)
    elif content_type in ("image/jpeg", "image/png"):
        data = _clean_photo(data, content_type, shown)
    elif content_type == HEIC:
        data, content_type = _heic_to_jpeg(data, shown), "image/jpeg"
    else:
        raise UploadRejected(
            gettext("“%(name)s” is not a PDF, JPEG or PNG file.") % {"name": shown}
        )
    original_name = _name_for_content(name, content_type)
    return CheckedFile(
        content=ContentFile(data, name=original_name),
        original_name=original_name,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _read(upload: UploadedFile, name: str) -> bytes:
    if upload.size is not None and upload.size > MAX_FILE_SIZE:
        raise _too_large(name)
    if upload.seekable():
        upload.seek(0)  # another check may have read it already
    # One byte past the limit tells us enough, whatever size the upload claims.
    data = upload.read(MAX_FILE_SIZE + 1)
    if not data:
        raise UploadRejected(gettext("“%(name)s” is empty.") % {"name": name})
    if len(data) > MAX_FILE_SIZE:
        raise _too_large(name)
    return data


def _too_large(name: str) -> UploadRejected:
    return UploadRejected(
        gettext("“%(name)s” is larger than %(limit)s MB.")
        % {"name": name, "limit": MAX_FILE_SIZE // (1024 * 1024)}
    )


def _check_pdf(data: bytes, name: str) -> None:
    # Without the marker it is a cut-off download or something else behind a PDF header.
    if PDF_EOF not in data[-PDF_TAIL:]:
        raise UploadRejected(gettext("“%(name)s” is not a complete PDF file.") % {"name": name})
    # The raw bytes first: a disguise must be refused even where a PDF parser would not look.
    if _HTML_TAG.search(data):
        raise UploadRejected(
            gettext("“%(name)s” contains web page code, which a PDF must not.") % {"name": name}
        )
    # What zip tools look for: an end record in the last 64 KB. Searching every byte for a
    # signature would refuse about one large genuine PDF in 400 by chance.
    if zipfile.is_zipfile(io.BytesIO(data)):
        raise UploadRejected(
            gettext("“%(name)s” has an archive (ZIP) hidden inside; send the document on its own.")
            % {"name": name}
        )
    if _ACTIVE_NAME.search(data):
        raise _active_content(name)
    _parse_pdf(data, name)


def _parse_pdf(data: bytes, name: str) -> None:
    """The PDF must open without a password, have a page and no active content once parsed."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
        pages = 0 if locked else len(reader.pages)
        active = pages > 0 and _has_active_content(reader)
    except DependencyError:
        # pypdf needs a crypto library for AES; without it an encrypted file cannot be looked into.
        locked = True
    except Exception:  # pypdf reports damaged files with many exception types
        raise UploadRejected(
            gettext("“%(name)s” could not be read as a PDF; it may be damaged.") % {"name": name}
        ) from None
    if locked:
        # Neither we nor the other side could open it.
        raise UploadRejected(
            gettext("“%(name)s” is protected by a password or encryption; send a copy without it.")
            % {"name": name}
        )
    if pages == 0:
        raise UploadRejected(gettext("“%(name)s” is a PDF without any pages.") % {"name": name})
    if active:
        raise _active_content(name)


def _has_active_content(reader: PdfReader) -> bool:
    """Whether an object reachable from the trailer names a script, launch or attached file."""
    seen: set[tuple[int, int]] = set()
    pending: list[PdfObject] = [reader.trailer]
    while pending:
        obj: PdfObject | None = pending.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue  # pages point back to their parent: the graph has cycles
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):  # a stream too: its dictionary, not its data
            if _ACTIVE_NAMES.intersection(obj.keys()):
                return True
            pending.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            pending.extend(obj)
        elif isinstance(obj, NameObject) and obj in _ACTIVE_NAMES:
            return True
    return False


def _active_content(name: str) -> UploadRejected:
    return UploadRejected(
        gettext(
            "“%(name)s” contains scripts or attached files, which are not accepted. "
            "Print it to a new PDF and send that."
        )
        % {"name": name}
    )


def _decode_image(data: bytes, content_type: str, name: str) -> Image.Image:
    """The fully decoded image; a bomb is refused from its header, before any pixel is decoded."""
    try:
        return _decode(data, _PILLOW_FORMATS[content_type])
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UploadRejected(
            gettext("“%(name)s” has too many pixels: at most %(limit)s million are accepted.")
            % {"name": name, "limit": MAX_IMAGE_PIXELS // 1_000_000}
        ) from None
    except Exception:  # Pillow reports damaged files with many exception types
        raise UploadRejected(
            gettext("“%(name)s” could not be read as an image; it may be damaged or incomplete.")
            % {"name": name}
        ) from None


def _decode(data: bytes, pillow_format: str) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns about an image above its own limit; for us that is a rejection.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(f"{image.width}x{image.height}")
            image.verify()
        # verify() leaves the image unusable; only a full load finds truncated pixel data.
        image = Image.open(io.BytesIO(data), formats=[pillow_format])
        image.load()
    return image


def _clean_photo(data: bytes, content_type: str, name: str) -> bytes:
    """The image re-encoded from its decoded pixels: upright and with its colour profile, but
    without the EXIF (camera, GPS position), XMP, text and comments the sent bytes carry."""
    image = _decode_image(data, content_type, name)  # refuses a bomb or damage before any work
    kept = {key: image.info[key] for key in ("icc_profile", "transparency") if key in image.info}
    # The orientation tag goes with the EXIF, so the pixels are turned first. Damaged EXIF
    # says nothing reliable about orientation; the pixels are kept as they were decoded.
    with contextlib.suppress(Exception):
        ImageOps.exif_transpose(image, in_place=True)
    image.info = {}  # only what is passed to save() below is written
    out = io.BytesIO()
    if content_type == "image/png":
        image.save(out, format="PNG", **kept)
    else:
        if image.mode not in ("L", "RGB", "CMYK"):
            image = image.convert("RGB")
        image.save(
            out,
            format="JPEG",
            quality=PHOTO_JPEG_QUALITY,
            icc_profile=kept.get("icc_profile"),
        )
    return out.getvalue()


def _heic_to_jpeg(data: bytes, name: str) -> bytes:
    image = _decode_image(data, HEIC, name)
    out = io.BytesIO()
    # Only pixels and colour profile are carried over: EXIF, with the photo's location, is not.
    image.convert("RGB").save(
        out,
        format="JPEG",
        quality=PHOTO_JPEG_QUALITY,
        icc_profile=image.info.get("icc_profile"),
    )
    return out.getvalue()


def _clean_name(raw: str) -> str:
    """The uploaded name fit to show: last path part, no control characters, NFC, trimmed."""
    name = re.split(r"[/\\]", raw)[-1]
    # Control and format characters (NUL, bidi overrides, line separators) disguise a name.
    name = "".join(
        char
        for char in name
        if not unicodedata.category(char).startswith("C")
        and unicodedata.category(char) not in ("Zl", "Zp")
    )
    name = unicodedata.normalize("NFC", name)
    return re.sub(r"^[\s.]+|[\s.]+$", "", name)


def _name_for_content(name: str, content_type: str) -> str:
    """The clean name with an extension that tells the truth about the stored content."""
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in _SUFFIXES[content_type]:
        if suffix.lower() not in _DOCUMENT_SUFFIXES:
            stem = name  # "Invoice 12.03.2024" keeps its dots
        suffix = ALLOWED_TYPES[content_type]
    stem = stem or _FALLBACK_STEM
    return stem[: _NAME_MAX_LENGTH - len(suffix)] + suffix
