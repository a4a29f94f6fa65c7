"""The merchant portal at /portal/, in the `portal` namespace."""

from django.urls import path

from .views import account, cases, dashboard, fees, integrations, team

app_name = "portal"

urlpatterns = [
    path("", dashboard.DashboardView.as_view(), name="dashboard"),
    # The work queue and the case page.
    path("cases/", cases.QueueView.as_view(), name="queue"),
    path("cases/export.csv", cases.QueueExportView.as_view(), name="queue-export"),
    path("cases/<str:public_id>/", cases.CaseView.as_view(), name="case"),
    path(
        "cases/<str:public_id>/respond/",
        cases.CaseActionView.as_view(action="respond"),
        name="case-respond",
    ),
    path(
        "cases/<str:public_id>/accept/",
        cases.CaseActionView.as_view(action="accept"),
        name="case-accept",
    ),
    path(
        "cases/<str:public_id>/return-received/",
        cases.CaseActionView.as_view(action="return-received"),
        name="case-return-received",
    ),
    path(
        "cases/<str:public_id>/appeal/",
        cases.CaseActionView.as_view(action="appeal"),
        name="case-appeal",
    ),
    path(
        "cases/<str:public_id>/evidence/",
        cases.CaseActionView.as_view(action="evidence"),
        name="case-evidence",
    ),
    path(
        "cases/<str:public_id>/message/",
        cases.CaseActionView.as_view(action="message"),
        name="case-message",
    ),
    path(
        "cases/<str:public_id>/documents/<int:attachment_id>/",
        cases.DocumentView.as_view(),
        name="case-document",
    ),
    # Signing in, passwords, email preferences, working for several shops.
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("password-reset/", account.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        account.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        account.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        account.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("settings/notifications/", account.PreferencesView.as_view(), name="preferences"),
    path("switch/<slug:slug>/", account.SwitchMerchantView.as_view(), name="switch-merchant"),
    # The team (owners).
    path("team/", team.TeamView.as_view(), name="team"),
    path("team/<int:membership_id>/remove/", team.TeamRemoveView.as_view(), name="team-remove"),
    path(
        "team/invitations/<int:invitation_id>/withdraw/",
        team.TeamInvitationWithdrawView.as_view(),
        name="team-invitation-withdraw",
    ),
    path("team/leave/", team.LeaveShopView.as_view(), name="leave"),
    # The link in an invitation email (no sign-in needed to open it).
    path("invitations/<str:token>/", team.InvitationView.as_view(), name="invitation"),
    # API keys and webhook endpoints (owners).
    path("api/", integrations.ApiOverviewView.as_view(), name="api-index"),
    path("api/keys/", integrations.ApiKeyCreateView.as_view(), name="api-key-create"),
    path(
        "api/keys/<int:key_id>/revoke/",
        integrations.ApiKeyRevokeView.as_view(),
        name="api-key-revoke",
    ),
    path("api/webhooks/new/", integrations.WebhookCreateView.as_view(), name="api-webhook-create"),
    path(
        "api/webhooks/<int:endpoint_id>/",
        integrations.WebhookDetailView.as_view(),
        name="api-webhook",
    ),
    path(
        "api/webhooks/<int:endpoint_id>/rotate-secret/",
        integrations.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate",
    ),
    path(
        "api/webhooks/<int:endpoint_id>/deliveries/<int:message_id>/resend/",
        integrations.WebhookResendView.as_view(),
        name="api-webhook-resend",
    ),
    # Fees and statements.
    path("fees/", fees.StatementListView.as_view(), name="fees-statements"),
    path(
        "fees/statements/<int:statement_id>/",
        fees.StatementDetailView.as_view(),
        name="fees-statement",
    ),
    path(
        "fees/statements/<int:statement_id>/statement.csv",
        fees.StatementCsvView.as_view(),
        name="fees-statement-csv",
    ),
    path(
        "fees/statements/<int:statement_id>/statement.pdf",
        fees.StatementPdfView.as_view(),
        name="fees-statement-pdf",
    ),
]
