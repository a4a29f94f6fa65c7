"""Merchant portal accounts; included by the project inside the `portal` namespace at portal/."""

from django.urls import path

from .views import portal_account as views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("settings/notifications/", views.PreferencesView.as_view(), name="preferences"),
    path("team/", views.TeamView.as_view(), name="team"),
    path(
        "team/<int:membership_id>/remove/",
        views.TeamRemoveView.as_view(),
        name="team-remove",
    ),
    path("switch/<slug:slug>/", views.SwitchMerchantView.as_view(), name="switch-merchant"),
]
