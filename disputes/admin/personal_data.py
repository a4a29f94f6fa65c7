"""The desk's personal-data pages: a customer's export and erasure (by email address), and a
case's bundle for an ADR body. Every request is logged by the services it calls."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _

from ..models import Dispute, PersonalDataRequest
from ..privacy.bundle import case_bundle
from ..privacy.erasure import erasure_apply, erasure_plan
from ..privacy.export import customer_export
from ..privacy.policies import all_policies
from ..privacy.removal import is_pseudonym, pseudonym
from .actions import staff_actor
from .forms import CustomerEmailForm

PERSONAL_DATA_URL_NAME = "disputes_personal_data"
BUNDLE_URL_NAME = "disputes_dispute_bundle"


def personal_data_view(request: HttpRequest) -> HttpResponseBase:
    """GET: the form and the policy. POST `export`: the ZIP. POST `plan`: what an erasure
    would do. POST `erase` (after the plan, with `confirm`): do it and show the report."""
    if not request.user.has_perm("disputes.handle_personal_data"):
        raise PermissionDenied
    form = CustomerEmailForm(request.POST or None)  # posted: no email in a URL or a log
    context = {
        **admin.site.each_context(request),
        "title": _("A customer's personal data"),
        "form": form,
        "policies": all_policies(),
    }
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        action = request.POST.get("action")
        if action == "export":
            export = customer_export(email=email, actor=staff_actor(request))
            response = FileResponse(export.archive, as_attachment=True, filename=export.filename)
            response["Cache-Control"] = "private, no-store"
            return response
        if action == "erase" and request.POST.get("confirm") == "yes":
            context["report"] = erasure_apply(email=email, actor=staff_actor(request))
            context["done"] = True
            messages.success(request, _("The erasure was carried out and logged."))
        elif action in ("plan", "erase"):
            context["report"] = erasure_plan(email=email)
    return TemplateResponse(request, "admin/disputes/personal_data.html", context)


def case_bundle_view(request: HttpRequest, object_id: int) -> HttpResponseBase:
    if not request.user.has_perm("disputes.decide_dispute"):
        raise PermissionDenied
    dispute = Dispute.objects.filter(pk=object_id).first()
    if dispute is None:
        raise Http404
    bundle = case_bundle(dispute=dispute, actor=staff_actor(request))
    response = FileResponse(bundle.archive, as_attachment=True, filename=bundle.filename)
    response["Cache-Control"] = "private, no-store"
    return response


def personal_data_urls() -> list[URLPattern]:
    """For the Dispute admin's `get_urls()`."""
    view = admin.site.admin_view
    return [
        path("personal-data/", view(personal_data_view), name=PERSONAL_DATA_URL_NAME),
        path("<int:object_id>/bundle/", view(case_bundle_view), name=BUNDLE_URL_NAME),
    ]


@admin.register(PersonalDataRequest)
class PersonalDataRequestAdmin(admin.ModelAdmin):
    """The log of exports and erasures: read only, never changed or removed by hand."""

    list_display = ["handled_at", "kind", "pseudonym", "handled_by"]
    list_filter = ["kind"]
    search_fields = ["pseudonym"]
    list_select_related = ["handled_by"]
    readonly_fields = ["kind", "pseudonym", "handled_by", "handled_at", "summary"]

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("disputes.handle_personal_data")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        """Search by the customer's email: it is turned into the pseudonym the log holds."""
        term = search_term.strip()
        if "@" in term and not is_pseudonym(term):
            term = pseudonym(term)
        return (queryset.filter(pseudonym=term), False) if term else (queryset, False)
