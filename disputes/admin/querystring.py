"""The desk's ModelAdmin base: an add form's initial values from a hand-made query string get a
page, never a server error. (A NUL or an empty `_to_field` anywhere in the admin is handled once,
by the desk's site: disputes/support_desk/site.py.)

Django's admin trusts what its own links send; this is where other values fail.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest


class DeskModelAdmin(admin.ModelAdmin):
    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """The add form's values from the query string (a "+" link's `?merchant=7`), each kept
        only where its form field takes it: another value is ignored, since a widget cannot
        always show what it could not clean (a date and time typed as text, an unknown id)."""
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
