"""The project's URLs plus the portal account pages, until the project includes them itself.

A stand-in `portal:dashboard` gives the login and shop switch somewhere to land.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import URLResolver, include, path

from disputes import portal_account_urls
from disputes_portal.urls import urlpatterns as project_urlpatterns


def dashboard_stand_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse("dashboard")


def _has_portal_namespace() -> bool:
    return any(
        isinstance(pattern, URLResolver) and pattern.namespace == "portal"
        for pattern in project_urlpatterns
    )


if _has_portal_namespace():
    urlpatterns = list(project_urlpatterns)
else:
    urlpatterns = [
        *project_urlpatterns,
        path(
            "portal/",
            include(
                (
                    [
                        *portal_account_urls.urlpatterns,
                        path("", dashboard_stand_in, name="dashboard"),
                    ],
                    "portal",
                )
            ),
        ),
    ]
