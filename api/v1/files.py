"""/files: documents uploaded once and attached to case actions by id; the documents of a case
(`GET /disputes/{id}/files`) and their content (`GET /files/{id}/content`).

A case's document has the id "doc_" + its number, the `id` of the same document in the
timeline's `attachments` (`GET /disputes/{id}/events`): `doc_42` is attachment 42. It never
changes. An upload waiting to be attached is "file_..." (below); attached, it is a new
document with its own "doc_" id.
"""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from datetime import datetime
from typing import Annotated, Any

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from ninja import File, Path, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from disputes import selectors
from disputes.choices import ActorKind, Visibility
from disputes.errors import DisputeNotFound
from disputes.models import Attachment
from disputes.uploads import ALLOWED_TYPES, MAX_FILE_SIZE
from disputes.views.documents import DOCUMENT_CSP

from ..idempotency import idempotent
from ..schemas import ErrorOut, FileOut, utc
from ..scopes import Scope
from ..selectors import merchant_documents
from ..uploads import api_upload_create
from .auth import request_merchant, requires
from .common import CASE_NOT_FOUND, DisputeId, refusals
from .errors import UploadTooLarge, domain_error_body, error_body

router = Router(tags=["files"])
# `GET /disputes/{id}/files`, registered under /disputes with the case operations.
case_router = Router(tags=["files"])

DOCUMENT_ID_PREFIX = "doc_"
DocumentId = Annotated[
    str,
    Path(
        pattern=r"^doc_[1-9][0-9]{0,17}$",
        description="A case document's id, as `GET /disputes/{id}/files` lists it.",
        examples=["doc_4711"],
    ),
]
_UPLOADERS = {ActorKind.STAFF: "support"}


class DocumentNotFound(DisputeNotFound):  # 404, as an unknown case
    code = "not_found"
    default_message = gettext_lazy("No such document.")


def document_id(attachment: Attachment) -> str:
    return f"{DOCUMENT_ID_PREFIX}{attachment.pk}"


class DocumentOut(Schema):
    """A document of a case the merchant may see: the customer's and the merchant's own."""

    id: str = Field(
        examples=["doc_4711"],
        description="Stable; `GET /files/{id}/content` downloads it. `doc_` + the number "
        "the timeline's `attachments` show.",
    )
    name: str = Field(examples=["delivery-proof.pdf"], description="The name it was sent with.")
    content_type: str = Field(
        examples=["application/pdf"],
        description="application/pdf, image/jpeg or image/png (HEIC is kept as JPEG).",
    )
    size: int = Field(examples=[48213], description="In bytes.")
    uploaded_by: str = Field(examples=["customer"], description="customer, merchant or support.")
    evidence_item: str | None = Field(
        examples=["tracking_number"],
        description="The checklist item the document proves, if it was sent as evidence.",
    )
    event_id: int | None = Field(
        examples=[88120], description="The timeline entry it came with (`GET .../events`)."
    )
    for_support: bool = Field(
        examples=[False],
        description="True for the merchant's evidence for support: the customer does not see it.",
    )
    created_at: datetime = Field(
        examples=["2026-03-02T10:05:00.000Z"], description="When it was attached (UTC)."
    )


class DocumentListOut(Schema):
    data: list[DocumentOut] = Field(description="Oldest first.")


def document_out(attachment: Attachment) -> DocumentOut:
    """`attachment` as `merchant_documents` gives it (with its entry's `event_visibility`)."""
    return DocumentOut.model_construct(
        id=document_id(attachment),
        name=attachment.original_name,
        content_type=attachment.content_type,
        size=attachment.size,
        uploaded_by=_UPLOADERS.get(ActorKind(attachment.uploaded_by), attachment.uploaded_by),
        evidence_item=attachment.evidence_item or None,
        event_id=attachment.event_id,
        for_support=getattr(attachment, "event_visibility", None) == Visibility.MERCHANT,
        created_at=utc(attachment.created_at),
    )


@router.post(
    "",
    response={201: FileOut},
    url_name="files",
    auth=requires(Scope.DISPUTES_WRITE),
    operation_id="upload_file",
    summary="Upload a document",
    openapi_extra=refusals(
        {
            413: ["`file_too_large`: the file is larger than 10 MB."],
            415: [
                "`upload_rejected`: not a PDF, JPEG, PNG or HEIC by its content, or one that "
                "does not pass the checks (active content, damage, too many pixels)."
            ],
        }
    ),
)
@idempotent(domain_error_body)
def upload_file(request: HttpRequest, file: File[UploadedFile]) -> Any:
    """Upload a PDF, JPEG, PNG or HEIC (converted to JPEG), at most 10 MB; attach it to a case
    action by its id within 24 hours."""
    if file.size is not None and file.size > MAX_FILE_SIZE:
        raise UploadTooLarge(
            gettext("The file is larger than %(limit)s MB.")
            % {"limit": MAX_FILE_SIZE // (1024 * 1024)}
        )
    upload = api_upload_create(merchant=request_merchant(request), upload=file, now=timezone.now())
    return 201, {
        "id": upload.public_id,
        "name": upload.original_name,
        "content_type": upload.content_type,
        "size": upload.size,
    }


@case_router.get(
    "/{dispute_id}/files",
    response={200: DocumentListOut},
    url_name="dispute-files",
    auth=requires(Scope.DISPUTES_READ),
    operation_id="list_dispute_files",
    summary="List a case's documents",
    openapi_extra=refusals({404: [CASE_NOT_FOUND]}),
)
def list_dispute_files(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """Every document of the case the merchant may see, oldest first: the customer's and the
    merchant's own (its evidence for support included), each with the timeline entry it came
    with. Documents on entries only support or only the customer sees are not listed. Another
    merchant's case is 404, as an unknown one."""
    merchant = request_merchant(request)
    dispute = selectors.dispute_for_merchant(merchant, dispute_id)
    if dispute is None:
        raise DisputeNotFound(field="dispute_id")
    rows = merchant_documents(merchant, dispute=dispute)
    return DocumentListOut.model_construct(data=[document_out(row) for row in rows])


_BINARY = {"schema": {"type": "string", "format": "binary"}}
# A document is served with the type it was stored as: one the uploads accept, else (a kind no
# longer accepted) as bytes of no stated kind.
OTHER_TYPE = "application/octet-stream"
SERVED_TYPES = (*ALLOWED_TYPES, OTHER_TYPE)


@router.get(
    "/{file_id}/content",
    response={410: ErrorOut},
    url_name="file-content",
    auth=requires(Scope.DISPUTES_READ),
    operation_id="download_file",
    summary="Download a case document",
    openapi_extra=refusals(
        {
            404: [
                "`not_found`: no document of the merchant's cases that the merchant sees has "
                "this id."
            ],
            410: ["`document_erased`: the document was removed under the retention policy."],
        },
        responses={
            "200": {
                "description": "The document as it is kept, to be saved, never shown inline: "
                "`Content-Disposition: attachment` with its name, its own content type, "
                "`Cache-Control: no-store`, `X-Content-Type-Options: nosniff` and a sandbox "
                "Content-Security-Policy.",
                "content": {content_type: _BINARY for content_type in SERVED_TYPES},
            }
        },
    ),
)
def download_file(request: HttpRequest, file_id: DocumentId) -> Any:
    """The content of a document `GET /disputes/{id}/files` lists. Another merchant's document,
    or one the merchant does not see, is 404 as an unknown id; a document removed under the
    retention policy is 410 `document_erased`."""
    number = int(file_id.removeprefix(DOCUMENT_ID_PREFIX))
    attachment = (
        merchant_documents(request_merchant(request), include_erased=True).filter(pk=number).first()
    )
    if attachment is None:
        raise DocumentNotFound(field="file_id")
    if attachment.erased_at is not None:
        message = gettext("This document was removed under the retention policy.")
        return Status(410, error_body("document_erased", message, "file_id"))
    content_type = attachment.content_type
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=content_type if content_type in ALLOWED_TYPES else OTHER_TYPE,
        as_attachment=True,
        filename=attachment.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOCUMENT_CSP
    response["Cache-Control"] = "no-store"  # evidence: no cache, shared or private, keeps a copy
    return response
