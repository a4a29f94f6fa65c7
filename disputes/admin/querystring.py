"""The desk's ModelAdmin base: a hand-made query string (a filter, `_to_field`, an add form's
initial values) gets a page or the admin's "wrong filter" answer, never a server error.

Django's admin trusts what its own links send; these are the places where other values fail.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest


class DeskChangeList(ChangeList):
    def get_filters_params(self, params: Any = None) -> dict[str, Any]:
        lookup_params: dict[str, Any] = super().get_filters_params(params)
        # PostgreSQL text holds no NUL: such a filter matches nothing, and the list's query
        # would fail as it runs. Refused as any wrong filter value is (Django's ?e=1 page).
        if any("\x00" in str(v) for values in lookup_params.values() for v in values):
            raise IncorrectLookupParameters("A filter value contains a NUL character.")
        return lookup_params


class DeskModelAdmin(admin.ModelAdmin):
    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return DeskChangeList

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Model | None:
        # "?_to_field=" names no field: the object by its id, as without the parameter.
        return super().get_object(request, object_id, from_field or None)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # The autocomplete's term is not checked as the list's search box is: no stored text
        # holds a NUL, and PostgreSQL would refuse the query.
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """The add form's values from the query string (a link's `?merchant=7`), each kept only
        where its form field takes it: any other value is ignored, since a widget cannot always
        show what its field could not clean (a date and time as one text, an unknown id)."""
        initial = super().get_changeform_initial_data(request)
        fields = self.get_form(request).base_fields
        usable = {}
        for name, value in initial.items():
            field = fields.get(name)
            if field is None:
                continue
            try:
                field.clean(value)
            except (ValidationError, ValueError, TypeError, OverflowError):
                continue
            usable[name] = value
        return usable
