"""The support desk in the Django admin: records (merchants, orders), the case list and the case
desk with its action table, the desk's forms, and the complaint figures."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import desk, records  # noqa: F401 - registers the ModelAdmins

admin.site.site_header = _("Dispute portal — support desk")
admin.site.site_title = _("Dispute portal")
