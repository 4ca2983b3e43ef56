from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView


def home(request: HttpRequest) -> HttpResponse:
    """The API has no pages of its own: send people to the single-page app."""
    if settings.SPA_ORIGINS:
        return HttpResponseRedirect(settings.SPA_ORIGINS[0] + "/")
    return JsonResponse({"api": request.build_absolute_uri("/api/sso/")})


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/sso/", include("sso_api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", template_name="swagger_sign_in.html"),
        name="swagger-ui",
    ),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]
