"""The project's own API, authenticated with simplejwt's JWTAuthentication (the default)."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class OrderList(APIView):
    def get(self, request: Request) -> Response:
        return Response({"customer": request.user.get_username(), "orders": []})
