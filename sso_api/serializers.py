"""Request and response shapes. No network, no database writes: validation only.

Each serializer's ``Meta.ref_name`` is its component name in the OpenAPI schema.
drf-spectacular adds ``Request`` to the names of request bodies (the project's
``COMPONENT_SPLIT_REQUEST``, which docs/openapi.md recommends), so a request serializer is
named for its endpoint alone: ``Start`` becomes ``StartRequest``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import Field, SkipField, empty, get_error_detail
from rest_framework.relations import ManyRelatedField, RelatedField

# Values of Microsoft's ``prompt`` parameter for the v2.0 authorize endpoint.
PROMPT_CHOICES = ("login", "none", "consent", "select_account", "create")

_Fields = dict[str, Field[Any, Any, Any, Any]]


class _FieldsOnce:
    """The fields of each serializer class, built on first use and shared from then on.

    DRF gives each serializer instance its own copy of every declared field (a deep copy,
    field by field, re-running each field's ``__init__``), which costs more than everything
    else some endpoints do. Fields whose conversion reads nothing of the instance they are
    bound to can be built once per class instead: ``of`` builds them the way DRF does (a
    throwaway instance's ``fields``, bound to that instance, which has no data and no
    context), refuses with :class:`ImproperlyConfigured` each field for which
    ``why_refused`` gives a reason, and returns the same mapping to every caller after that.
    The caller must not bind or change them.
    """

    def __init__(self, why_refused: Callable[[str, Field[Any, Any, Any, Any]], str | None]):
        self._why_refused = why_refused
        self._built: dict[type[serializers.Serializer[Any]], _Fields] = {}
        self._lock = threading.Lock()

    def of(self, serializer_class: type[serializers.Serializer[Any]]) -> _Fields:
        fields = self._built.get(serializer_class)
        if fields is None:
            built = dict(serializer_class().fields)
            for name, field in built.items():
                reason = self._why_refused(name, field)
                if reason is not None:
                    raise ImproperlyConfigured(f"{serializer_class.__name__}.{name}: {reason}")
            # Two threads may build the same class's fields at once: both keep the first.
            with self._lock:
                fields = self._built.setdefault(serializer_class, built)
        return fields


def _refused_in_a_response(name: str, field: Field[Any, Any, Any, Any]) -> str | None:
    # What DRF's own rendering does and ResponseSerializer's does not: refuse, rather than
    # render differently.
    unsupported = (
        field.source != name
        or field.write_only
        or field.default is not empty
        or isinstance(field, serializers.SerializerMethodField)
    )
    if unsupported:
        return "a response field takes no source, default or method, and is not write-only"
    return None


# The methods that validate a field's value; DRF's own live in this module.
_VALIDATING_METHODS = ("get_value", "validate_empty_values", "run_validation", "to_internal_value")
_DRF_FIELDS_MODULE = serializers.Field.__module__


def _immutable(value: object) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(_immutable(item) for item in value)
    return value is None or isinstance(value, bool | int | float | str | bytes)


def _refused_in_a_request(name: str, field: Field[Any, Any, Any, Any]) -> str | None:
    # Shared fields are bound to a template with no context and no instance, so what would
    # read the request's serializer through them is refused rather than given the template.
    if isinstance(field, serializers.BaseSerializer):
        return "a nested serializer validates with its own fields, context and instance"
    if isinstance(field, RelatedField | ManyRelatedField):
        # A hyperlinked field reads the request from the context; a queryset may be per request.
        return "a related field may read the request's context"
    # Reading ``validators`` also builds the field's lazily built list now, in one thread.
    needs_context = [field.default, *field.validators]
    if any(getattr(part, "requires_context", False) for part in needs_context):
        # CurrentUserDefault (HiddenField's usual default), CreateOnlyDefault, UniqueValidator.
        return "a default or validator that requires context reads the request's serializer"
    if field.read_only and field.default is not empty:
        # DRF hands it to the serializer's validators; RequestSerializer.run_validators does not.
        return "a read-only field with a default is not validated alike"
    if not (field.default is empty or callable(field.default) or _immutable(field.default)):
        # DRF copies the field, default included, for each request; a shared list or dict
        # that one request's code changed would be the next request's default.
        return "a mutable default would be shared by every request"
    own_code = [
        method
        for method in _VALIDATING_METHODS
        if getattr(type(field), method).__module__ != _DRF_FIELDS_MODULE
    ]
    if own_code:
        # Only DRF's own field code is known to read nothing of the binding but the name,
        # the source and the root's ``partial``: a field class's own code may read its
        # context, parent or root, which would be the template's.
        return f"a field class with its own {', '.join(own_code)} may read the request"
    child = getattr(field, "child", None)  # ListField's and DictField's items
    return None if child is None else _refused_in_a_request(name, child)


_response_fields = _FieldsOnce(_refused_in_a_response)
_request_fields = _FieldsOnce(_refused_in_a_request)


# A response body, rendered without DRF building its fields again for every response.
#
# A response body validates nothing and depends on nothing of the request, so each class's
# fields are built once (``_FieldsOnce``) and every response is rendered with them: each
# field's own ``to_representation``, in declaration order, ``None`` kept as ``None``, a
# missing optional value left out. That is DRF's own rendering for these fields (plain,
# nested and list fields, no ``source``), and ``tests/test_serializers.py`` checks that both
# give the same bodies.
#
# (No docstring: drf-spectacular would show it as every response component's description.)
class ResponseSerializer(serializers.Serializer[Any]):
    def to_representation(self, instance: Any) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, field in _response_fields.of(type(self)).items():
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


# A request body, validated without DRF building its fields again for every request.
#
# Each class's fields are built once (``_FieldsOnce``) and every request's data is validated
# with them, as DRF's own ``Serializer.to_internal_value`` does with the instance's copies:
# each writable field's ``get_value`` and ``run_validation``, then the serializer's
# ``validate_<field>`` if it has one, errors collected per field name. Validating reads
# nothing of the field's binding but its name, its source and its root's ``partial`` (a
# partial validation is left to DRF's own), and fields that would read more are refused.
# ``schema`` and drf-spectacular still read each instance's own ``fields``, so the OpenAPI
# schema is DRF's; ``tests/test_serializers.py`` checks that both validations give the same
# data and errors, codes included.
#
# (No docstring: drf-spectacular would show it as every request component's description.)
class RequestSerializer(serializers.Serializer[Any]):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Fields changed per instance (in ``__init__``, or built by ``get_fields``) would be
        # ignored by validation with the class's shared fields: refused when declared.
        for method in ("__init__", "get_fields"):
            if getattr(cls, method) is not getattr(RequestSerializer, method):
                raise TypeError(f"{cls.__name__}: a request serializer keeps DRF's {method}")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # The shared fields would read their template's ``partial``; DRF's own refuses a body
        # that is not a mapping before it builds any field.
        if getattr(self.root, "partial", False) or not isinstance(data, Mapping):
            validated: dict[str, Any] = super().to_internal_value(data)
            return validated
        validated = {}
        errors: dict[str, Any] = {}
        for name, field in _request_fields.of(type(self)).items():
            if field.read_only:
                continue
            validate_method = getattr(self, "validate_" + name, None)
            primitive = field.get_value(data)  # outside the try, as in DRF's own
            try:
                value = field.run_validation(primitive)
                if validate_method is not None:
                    value = validate_method(value)
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except DjangoValidationError as exc:
                errors[name] = get_error_detail(exc)
            except SkipField:
                pass
            else:
                self.set_value(validated, field.source_attrs, value)
        if errors:
            raise serializers.ValidationError(errors)
        return validated

    def run_validators(self, value: Any) -> None:
        # DRF's own first adds the defaults of read-only fields to a copy of the data, which
        # builds this instance's fields to look for them. Those fields are refused, so only
        # the copy is left.
        super(serializers.Serializer, self).run_validators(
            dict(value) if isinstance(value, dict) else value
        )


class CodeChallengeMethodField(serializers.CharField):
    """``code_challenge_method``, whose one accepted value is ``S256``.

    Any other string passes validation, so that the flow refuses it with the code clients
    branch on (``invalid_code_challenge``) rather than with ``invalid_request``. The
    OpenAPI schema shows the one value (``sso_api.schema``).
    """


class StartRequestSerializer(RequestSerializer):
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


class TokenRequestSerializer(RequestSerializer):
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


class ExchangeRequestSerializer(RequestSerializer):
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


class RefreshRequestSerializer(RequestSerializer):
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
