"""/files: documents uploaded once and attached to case actions by id."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from ninja import File, Router
from ninja.files import UploadedFile

from disputes.uploads import MAX_FILE_SIZE

from ..idempotency import idempotent
from ..schemas import FileOut
from ..scopes import Scope
from ..uploads import api_upload_create
from .auth import request_merchant, requires
from .common import ERRORS
from .errors import UploadTooLarge, domain_error_body

router = Router(tags=["files"])


@router.post(
    "",
    response={201: FileOut, **ERRORS},
    url_name="files",
    auth=requires(Scope.DISPUTES_WRITE),
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
