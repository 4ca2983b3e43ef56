from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class Bare(APIView):
    """The baseline: a DRF view with no authentication, returning a small JSON body."""

    authentication_classes = ()
    permission_classes = ()

    def get(self, request: object) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("api/sso/", include("sso_api.urls")),
    path("bench/bare/", Bare.as_view()),
]
