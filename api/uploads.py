"""Documents sent to POST /files: checked like the portal's, kept until a case action uses them."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext

from disputes.errors import InvalidChoice
from disputes.models import Merchant
from disputes.uploads import CheckedFile, check_uploads

from .models import ApiUpload

# An upload not attached to a case within a day is deleted by the cleanup job.
UPLOAD_KEPT_FOR = timedelta(hours=24)


def api_upload_create(*, merchant: Merchant, upload: UploadedFile, now: datetime) -> ApiUpload:
    """Check the file with the portal's rules (UploadRejected when refused) and keep it."""
    (checked,) = check_uploads([upload])
    stored = ApiUpload(
        public_id=f"file_{secrets.token_hex(16)}",
        merchant=merchant,
        original_name=checked.original_name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        created_at=now,
    )
    stored.file.save(checked.original_name, checked.content, save=False)
    try:
        stored.save()
    except BaseException:
        if stored.file.name:
            stored.file.storage.delete(stored.file.name)
        raise
    return stored


def api_uploads_for(
    *, merchant: Merchant, file_ids: Sequence[str]
) -> tuple[list[CheckedFile], list[ApiUpload]]:
    """The merchant's uploads by id, as documents for a service; another's id is unknown."""
    if not file_ids:
        return [], []
    uploads = {
        upload.public_id: upload
        for upload in ApiUpload.objects.filter(merchant=merchant, public_id__in=set(file_ids))
    }
    missing = [file_id for file_id in file_ids if file_id not in uploads]
    if missing:
        raise InvalidChoice(
            gettext("Unknown file id: %(id)s. Upload it to /files first.") % {"id": missing[0]},
            field="files",
        )
    documents = []
    for file_id in file_ids:
        upload = uploads[file_id]
        with upload.file.open("rb") as handle:
            data = handle.read()
        documents.append(
            CheckedFile(
                content=ContentFile(data, name=upload.original_name),
                original_name=upload.original_name,
                content_type=upload.content_type,
                size=upload.size,
                sha256=upload.sha256,
            )
        )
    return documents, list(uploads.values())


def api_uploads_used(uploads: Sequence[ApiUpload]) -> None:
    """Attached to a case (which keeps its own copy): remove them after commit."""
    if not uploads:
        return
    names = [upload.file.name for upload in uploads]
    storage = uploads[0].file.storage
    ApiUpload.objects.filter(pk__in=[upload.pk for upload in uploads]).delete()

    def delete_files() -> None:
        for name in names:
            if name:
                storage.delete(name)

    transaction.on_commit(delete_files)


def api_uploads_delete_stale(*, now: datetime) -> int:
    stale = list(ApiUpload.objects.filter(created_at__lt=now - UPLOAD_KEPT_FOR))
    for upload in stale:
        if upload.file.name:
            upload.file.storage.delete(upload.file.name)
    ApiUpload.objects.filter(pk__in=[upload.pk for upload in stale]).delete()
    return len(stale)
