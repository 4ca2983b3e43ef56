"""Mount with ``path("api/sso/", include("sso_api.urls"))``; any prefix works.

The callback's path ends in ``/callback/`` with its trailing slash, which is part of the
redirect URI registered in Entra.
"""

from django.urls import path

from sso_api import views

app_name = "sso_api"

urlpatterns = [
    path("start/", views.StartView.as_view(), name="start"),
    path("callback/", views.CallbackView.as_view(), name="callback"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("token/refresh/", views.RefreshView.as_view(), name="token-refresh"),
    path("token/exchange/", views.ExchangeView.as_view(), name="token-exchange"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout/all/", views.LogoutAllView.as_view(), name="logout-all"),
    path(
        "logout/frontchannel/",
        views.FrontChannelLogoutView.as_view(),
        name="frontchannel-logout",
    ),
    path("me/", views.MeView.as_view(), name="me"),
    path("sessions/", views.SessionsView.as_view(), name="sessions"),
    path("sessions/<str:session_id>/", views.SessionView.as_view(), name="session"),
]
