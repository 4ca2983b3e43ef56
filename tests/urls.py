from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/sso/", include("sso_api.urls")),
    path("admin/", admin.site.urls),
]
