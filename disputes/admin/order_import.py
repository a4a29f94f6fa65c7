"""The Order admin's upload: a back-fill file (CSV or JSON Lines) imported as `manage.py
import_orders` imports it, with the same checks, for files small enough to wait for in a
browser. Refused lines are listed on the page and kept as a CSV report under the private media
root (imports/), which only staff who may import can download."""

from __future__ import annotations

import tempfile
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import Merchant, Order
from ..order_import import (
    REPORTS_DIR,
    ErrorReport,
    ImportFileRefused,
    ImportSummary,
    format_of,
    import_orders,
    read_source,
)
from ..orders import FEED_FIELDS

# A browser waits for the whole import: about 100 000 orders. Larger files: the command.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
ERRORS_SHOWN = 50
IMPORT_URL_NAME = "disputes_order_import"
REPORT_URL_NAME = "disputes_order_import_report"


class OrderImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV with a header row, or JSON Lines (.jsonl, .ndjson); at most 20 MB."),
    )
    merchant = forms.ModelChoiceField(
        label=_("Merchant"),
        queryset=Merchant.objects.order_by("name"),
        required=False,
        widget=forms.TextInput,
        to_field_name="slug",
        help_text=_("Slug of the merchant for lines that name none in a merchant column."),
        error_messages={"invalid_choice": _("No merchant has this slug.")},
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                gettext(
                    "The file is larger than 20 MB. Import it with manage.py import_orders, "
                    "which streams files of any size."
                )
            )
        if format_of(upload.name or "") is None:
            raise forms.ValidationError(
                gettext("Upload a .csv, .jsonl or .ndjson file: the name tells its format.")
            )
        return upload


def _may_import(request: HttpRequest) -> bool:
    return request.user.has_perm("disputes.add_order") and request.user.has_perm(
        "disputes.change_order"
    )


def order_import_view(request: HttpRequest) -> HttpResponse:
    if not _may_import(request):
        raise PermissionDenied
    form = OrderImportForm(request.POST or None, request.FILES or None)
    summary: ImportSummary | None = None
    report_url = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            summary, report_name = _run(upload, form.cleaned_data["merchant"])
        except ImportFileRefused as error:
            form.add_error("file", error.message)
        else:
            if report_name:
                report_url = reverse(f"admin:{REPORT_URL_NAME}", args=[report_name])
            level = messages.WARNING if summary.errors else messages.SUCCESS
            messages.add_message(
                request,
                level,
                gettext(
                    "%(lines)s lines: %(created)s created, %(updated)s updated, "
                    "%(unchanged)s unchanged, %(errors)s refused."
                )
                % {
                    "lines": summary.lines,
                    "created": summary.created,
                    "updated": summary.updated,
                    "unchanged": summary.unchanged,
                    "errors": summary.errors,
                },
            )
            if not summary.errors:
                return redirect("admin:disputes_order_changelist")
    context = {
        **admin.site.each_context(request),
        "title": gettext("Import orders"),
        "opts": Order._meta,
        "form": form,
        "summary": summary,
        "errors_shown": sorted(summary.first_errors, key=lambda e: e.line) if summary else [],
        "report_url": report_url,
        "fields": FEED_FIELDS,
    }
    return TemplateResponse(request, "admin/disputes/order/import.html", context)


def _run(upload: Any, merchant: Merchant | None) -> tuple[ImportSummary, str | None]:
    """Import the upload; the name of its error report when a line was refused."""
    file_format = format_of(upload.name)
    assert file_format is not None  # noqa: S101 - the form checked the name
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as report:
        upload.seek(0)
        summary = import_orders(
            read_source(upload, file_format=file_format),
            merchant=merchant,
            on_error=ErrorReport(report),
            keep_errors=ERRORS_SHOWN,
        )
        if not summary.errors:
            return summary, None
        report.seek(0)
        name = uuid.uuid4().hex
        default_storage.save(f"{REPORTS_DIR}/{name}.csv", File(report))
    return summary, name


def order_import_report_view(request: HttpRequest, name: str) -> FileResponse:
    if not _may_import(request):
        raise PermissionDenied
    stored = f"{REPORTS_DIR}/{name}.csv"
    if not default_storage.exists(stored):
        raise Http404
    return FileResponse(
        default_storage.open(stored, "rb"),
        as_attachment=True,
        filename="order-import-errors.csv",
        content_type="text/csv",
    )


def order_import_urls() -> list[URLPattern]:
    """For the Order admin's `get_urls()`: /admin/disputes/order/import/."""
    view = admin.site.admin_view
    return [
        path("import/", view(order_import_view), name=IMPORT_URL_NAME),
        re_path(
            r"^import/reports/(?P<name>[0-9a-f]{32})/$",
            view(order_import_report_view),
            name=REPORT_URL_NAME,
        ),
    ]
