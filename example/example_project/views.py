"""An API view of the example project's own, protected by an Entra app role.

It shows how a project's views use what sso_api provides: the bearer authentication for
our access tokens, the app-role permission, and the schema helper for their errors.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sso_api.authentication import AccessTokenAuthentication, EntraAccessTokenAuthentication
from sso_api.permissions import HasAppRole
from sso_api.schema import app_role_responses


class AdminReportView(APIView):
    """Something only holders of the ``Admin`` app role may read."""

    # Our tokens, and Entra access tokens for this API from apps that use MSAL.
    authentication_classes = (EntraAccessTokenAuthentication, AccessTokenAuthentication)
    permission_classes = (HasAppRole,)
    required_app_roles = ("Admin",)

    @extend_schema(
        operation_id="example_admin_report",
        summary="An example view for the Admin app role",
        description="Answers only access tokens whose roles claim holds Admin (no query).",
        responses={
            200: OpenApiResponse(
                inline_serializer(
                    name="AdminReport",
                    fields={
                        "message": serializers.CharField(),
                        "roles": serializers.ListField(child=serializers.CharField()),
                    },
                ),
                description="The caller holds Admin.",
            ),
            **app_role_responses(),
        },
    )
    def get(self, request: Request) -> Response:
        payload: Any = getattr(request.auth, "payload", {})
        return Response({"message": "Only admins read this.", "roles": payload.get("roles", [])})
