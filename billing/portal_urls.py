"""Fee pages of the merchant portal; included at portal/fees/ inside the `portal` namespace."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.StatementListView.as_view(), name="fees-statements"),
    path(
        "statements/<int:statement_id>/",
        views.StatementDetailView.as_view(),
        name="fees-statement",
    ),
    path(
        "statements/<int:statement_id>/statement.csv",
        views.StatementCsvView.as_view(),
        name="fees-statement-csv",
    ),
    path(
        "statements/<int:statement_id>/statement.pdf",
        views.StatementPdfView.as_view(),
        name="fees-statement-pdf",
    ),
]
