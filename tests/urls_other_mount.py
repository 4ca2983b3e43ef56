from django.urls import include, path

urlpatterns = [
    path("auth/microsoft/", include("sso_api.urls")),
]
