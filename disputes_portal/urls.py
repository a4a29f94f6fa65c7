from django.contrib import admin
from django.urls import include, path

from disputes.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("portal/", include("disputes.portal_urls")),
    path("api/v1/", api.urls),
    path("", include("disputes.urls")),
]
