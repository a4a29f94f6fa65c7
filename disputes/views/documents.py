"""A case document as a response: opened in the browser, never able to run anything.

Shared by the customer's case page, the merchant portal and the support desk, each of which
first checks that its reader may see the document.
"""

from __future__ import annotations

from django.http import FileResponse

from ..models import Attachment

# The document is shown as itself: no scripts, no forms, no navigation, nothing loaded.
DOCUMENT_CSP = "default-src 'none'; img-src 'self'; sandbox"


def document_response(attachment: Attachment) -> FileResponse:
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        as_attachment=False,
        filename=attachment.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOCUMENT_CSP
    response["Cache-Control"] = "private, no-store"  # evidence: no cache keeps a copy
    return response
