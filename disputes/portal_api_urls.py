"""API keys and webhooks in the portal; included at portal/api/ in the `portal` namespace."""

from django.urls import path

from .views import portal_api as views

urlpatterns = [
    path("", views.ApiOverviewView.as_view(), name="api-index"),
    path("keys/", views.ApiKeyCreateView.as_view(), name="api-key-create"),
    path("keys/<int:key_id>/revoke/", views.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
    path("webhooks/new/", views.WebhookCreateView.as_view(), name="api-webhook-create"),
    path("webhooks/<int:endpoint_id>/", views.WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:endpoint_id>/rotate-secret/",
        views.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:message_id>/resend/",
        views.WebhookResendView.as_view(),
        name="api-webhook-resend",
    ),
]
