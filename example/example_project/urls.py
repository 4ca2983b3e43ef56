from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from example_project.views import AdminReportView

# The API's own icon: browsers ask every origin for /favicon.ico (Swagger UI's page names
# another one, Redoc's and the JSON answers do not), and a 404 there is noise in the log.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#0c5c3b"/>'
    '<path d="M9 11h14M9 16h14M9 21h9" stroke="#fff" stroke-width="3" stroke-linecap="round"/>'
    "</svg>"
)


def favicon(request: HttpRequest) -> HttpResponse:
    """The API's icon, an SVG (which browsers accept at /favicon.ico)."""
    return HttpResponse(
        FAVICON_SVG, content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


def home(request: HttpRequest) -> HttpResponse:
    """The API has no pages of its own: send people to the single-page app."""
    if settings.SPA_ORIGINS:
        return HttpResponseRedirect(settings.SPA_ORIGINS[0] + "/")
    return JsonResponse({"api": request.build_absolute_uri("/api/sso/")})


urlpatterns = [
    path("", home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/sso/", include("sso_api.urls")),
    path("api/example/admin-report/", AdminReportView.as_view(), name="admin-report"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", template_name="swagger_sign_in.html"),
        name="swagger-ui",
    ),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]
