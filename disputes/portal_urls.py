from django.urls import include, path

from .views import portal

app_name = "portal"

urlpatterns = [
    path("", portal.DashboardView.as_view(), name="dashboard"),
    path("cases/", portal.QueueView.as_view(), name="queue"),
    path("cases/export.csv", portal.QueueExportView.as_view(), name="queue-export"),
    path("cases/<str:public_id>/", portal.CaseView.as_view(), name="case"),
    path(
        "cases/<str:public_id>/respond/",
        portal.CaseActionView.as_view(action="respond"),
        name="case-respond",
    ),
    path(
        "cases/<str:public_id>/accept/",
        portal.CaseActionView.as_view(action="accept"),
        name="case-accept",
    ),
    path(
        "cases/<str:public_id>/return-received/",
        portal.CaseActionView.as_view(action="return-received"),
        name="case-return-received",
    ),
    path(
        "cases/<str:public_id>/appeal/",
        portal.CaseActionView.as_view(action="appeal"),
        name="case-appeal",
    ),
    path(
        "cases/<str:public_id>/message/",
        portal.CaseActionView.as_view(action="message"),
        name="case-message",
    ),
    path(
        "cases/<str:public_id>/documents/<int:attachment_id>/",
        portal.DocumentView.as_view(),
        name="case-document",
    ),
    path("", include("disputes.portal_account_urls")),
    path("api/", include("disputes.portal_api_urls")),
    path("fees/", include("billing.portal_urls")),
]
