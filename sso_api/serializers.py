"""Request and response shapes. No network, no database writes: validation only.

Each serializer's ``Meta.ref_name`` is its component name in the OpenAPI schema.
drf-spectacular adds ``Request`` to the names of request bodies (the project's
``COMPONENT_SPLIT_REQUEST``, which docs/openapi.md recommends), so a request serializer is
named for its endpoint alone: ``Start`` becomes ``StartRequest``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.fields import Field, empty

# Values of Microsoft's ``prompt`` parameter for the v2.0 authorize endpoint.
PROMPT_CHOICES = ("login", "none", "consent", "select_account", "create")


# A response body, rendered without DRF building its fields again for every response.
#
# DRF gives each serializer instance its own copy of every declared field (a deep copy,
# field by field), which costs more than everything else ``/me/`` does once the access
# token is verified. A response body validates nothing and depends on nothing of the
# request, so each class's fields are built once (through DRF's ``get_fields``) and
# every response is rendered with them: each field's own ``to_representation``, in
# declaration order, ``None`` kept as ``None``, a missing optional value left out. That
# is DRF's own rendering for these fields (plain, nested and list fields, no ``source``),
# and ``tests/test_serializers.py`` checks that both give the same bodies.
#
# (No docstring: drf-spectacular would show it as every response component's description.)
class ResponseSerializer(serializers.Serializer[Any]):
    def to_representation(self, instance: Any) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, field in _fields_once(type(self)).items():
            if isinstance(instance, Mapping):
                present, value = name in instance, instance.get(name)
            else:
                present, value = hasattr(instance, name), getattr(instance, name, None)
            if not present:
                # DRF's order: a nullable field renders null, an optional one is left out.
                if field.allow_null:
                    body[name] = None
                elif field.required:
                    raise KeyError(name)
                continue
            body[name] = None if value is None else field.to_representation(value)
        return body


_built_fields: dict[type[ResponseSerializer], dict[str, Field[Any, Any, Any, Any]]] = {}
_built_fields_lock = threading.Lock()


def _fields_once(
    serializer_class: type[ResponseSerializer],
) -> dict[str, Field[Any, Any, Any, Any]]:
    """The fields of ``serializer_class``, built on first use and shared from then on.

    Only their ``to_representation`` is ever called, which reads nothing that differs from
    one response to the next.
    """
    fields = _built_fields.get(serializer_class)
    if fields is None:
        built = dict(serializer_class().get_fields())
        for name, field in built.items():
            # What DRF's own rendering does and this one does not: refuse, rather than
            # render differently.
            unsupported = (
                field.source not in (None, name)
                or field.write_only
                or field.default is not empty
                or isinstance(field, serializers.SerializerMethodField)
            )
            if unsupported:
                raise ImproperlyConfigured(
                    f"{serializer_class.__name__}.{name}: a response field takes no source, "
                    "default or method, and is not write-only"
                )
        with _built_fields_lock:
            fields = _built_fields.setdefault(serializer_class, built)
    return fields


class CodeChallengeMethodField(serializers.CharField):
    """``code_challenge_method``, whose one accepted value is ``S256``.

    Any other string passes validation, so that the flow refuses it with the code clients
    branch on (``invalid_code_challenge``) rather than with ``invalid_request``. The
    OpenAPI schema shows the one value (``sso_api.schema``).
    """


class StartRequestSerializer(serializers.Serializer[Any]):
    class Meta:
        ref_name = "Start"

    next = serializers.CharField(
        required=False,
        allow_blank=True,
        # Longer than validate_next_url's own limit, so an over-long next gets the same
        # invalid_next_url code as every other refused next.
        max_length=4096,
        help_text=(
            "Where the browser lands after sign-in: a path on this host or a URL under "
            "MICROSOFT_SSO_ALLOWED_REDIRECT_URLS. Defaults to MICROSOFT_SSO_NEXT_URL."
        ),
    )
    code_challenge = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=128,
        help_text="base64url(SHA-256(code_verifier)) of a verifier only this client knows.",
    )
    code_challenge_method = CodeChallengeMethodField(
        required=False, allow_blank=True, max_length=16, help_text="S256, the only method."
    )
    login_hint = serializers.CharField(
        required=False, allow_blank=True, max_length=256, help_text="Passed on to Microsoft."
    )
    domain_hint = serializers.CharField(
        required=False, allow_blank=True, max_length=256, help_text="Passed on to Microsoft."
    )
    prompt = serializers.ChoiceField(
        choices=PROMPT_CHOICES, required=False, help_text="Passed on to Microsoft."
    )
    redirect = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Answer 302 to Microsoft instead of JSON (for a system browser).",
    )


class StartResponseSerializer(ResponseSerializer):
    class Meta:
        ref_name = "StartResponse"

    authorization_url = serializers.URLField(help_text="Navigate the browser here.")
    state = serializers.CharField(help_text="The flow's OAuth state (informational).")
    expires_in = serializers.IntegerField(help_text="Seconds until this flow expires.")


class TokenRequestSerializer(serializers.Serializer[Any]):
    class Meta:
        ref_name = "Token"

    sso_code = serializers.CharField(
        max_length=256, help_text="The one-time code from the callback."
    )
    code_verifier = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=256,
        help_text="The PKCE verifier whose S256 challenge was sent to /start/.",
    )


class ExchangeRequestSerializer(serializers.Serializer[Any]):
    class Meta:
        ref_name = "Exchange"

    access_token = serializers.CharField(
        max_length=16384,
        help_text="An Entra access token for this API (scope access_as_user), as MSAL got it.",
    )


class UserSerializer(ResponseSerializer):
    class Meta:
        ref_name = "User"

    id = serializers.CharField()
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    tenant_id = serializers.CharField(allow_null=True)
    object_id = serializers.CharField(allow_null=True)
    roles = serializers.ListField(
        child=serializers.CharField(),
        help_text="The Entra app roles of the sign-in (the roles claim), as the access token "
        "carries them.",
    )
    groups = serializers.ListField(
        child=serializers.CharField(),
        help_text="The names of the user's Django groups (synced from Entra and given by "
        "hand), as of the access token's minting.",
    )


class TokenPairSerializer(ResponseSerializer):
    """What ``/token/refresh/`` answers (the name clients were generated with)."""

    class Meta:
        ref_name = "TokenPair"

    access = serializers.CharField()
    refresh = serializers.CharField(
        required=False,
        help_text="Absent when the refresh token was set as an HttpOnly cookie (cookie mode).",
    )
    # Always sent, hence no default (a default would make it optional in the schema).
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    user = UserSerializer(
        help_text="The session's user, as the new access token describes them (as /me/ "
        "would answer)."
    )


class TokenResponseSerializer(TokenPairSerializer):
    """What ``/token/`` and ``/token/exchange/`` answer: the same fields as a refresh."""

    class Meta:
        ref_name = "TokenResponse"


class RefreshRequestSerializer(serializers.Serializer[Any]):
    class Meta:
        ref_name = "Refresh"

    refresh = serializers.CharField(
        max_length=4096,
        required=False,
        help_text=(
            "The refresh token. Leave it out in cookie mode (MICROSOFT_SSO_REFRESH_COOKIE), "
            "where the cookie carries it and the X-SSO-CSRF header is required."
        ),
    )


class LogoutRequestSerializer(RefreshRequestSerializer):
    class Meta:
        ref_name = "Logout"

    next = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4096,
        help_text=(
            "With MICROSOFT_SSO_SLO_ENABLED: where Microsoft sends the browser after signing "
            "out (a path on this host or a URL under MICROSOFT_SSO_ALLOWED_REDIRECT_URLS, such "
            "as a native app's myapp://signed-out). Defaults to "
            "MICROSOFT_SSO_LOGOUT_REDIRECT_PATH."
        ),
    )


class LogoutResponseSerializer(ResponseSerializer):
    class Meta:
        ref_name = "LogoutResponse"

    logout_url = serializers.URLField(
        allow_null=True,
        help_text="Microsoft's end-session URL to navigate to, or null (SLO disabled).",
    )


class SessionSerializer(ResponseSerializer):
    """One of the caller's sessions (a sign-in's family of refresh tokens)."""

    class Meta:
        ref_name = "Session"

    id = serializers.CharField(help_text="Opaque id, for DELETE /sessions/{id}/.")
    started_at = serializers.DateTimeField(help_text="When the sign-in happened.")
    last_refreshed_at = serializers.DateTimeField(
        allow_null=True, help_text="When its tokens were last refreshed; null: never yet."
    )
    expires_at = serializers.DateTimeField(
        help_text="When it ends at the latest (MICROSOFT_SSO_SESSION_LIFETIME after sign-in)."
    )
    user_agent = serializers.CharField(
        allow_blank=True,
        help_text="The User-Agent that signed in, shortened; text the client sent, so "
        "display it as text, never as markup.",
    )
    method = serializers.ChoiceField(
        choices=["browser", "exchange"],
        help_text="browser: a sign-in through /start/; exchange: an Entra access token "
        "traded at /token/exchange/.",
    )
    current = serializers.BooleanField(help_text="Whether the calling access token is of it.")


class LogoutAllResponseSerializer(ResponseSerializer):
    class Meta:
        ref_name = "LogoutAllResponse"

    ended = serializers.IntegerField(help_text="How many sessions were ended.")
