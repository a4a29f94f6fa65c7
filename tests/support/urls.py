"""The project's URLs plus the staff figures page at a fixed address, until the Dispute admin
links it in its own `get_urls()`."""

from django.urls import path

from disputes.admin_figures import staff_figures_view
from disputes_portal.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("support-figures/", staff_figures_view),
]
