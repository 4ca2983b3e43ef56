"""Response bodies rendered with fields built once give exactly DRF's own rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from sso_api.flows import SessionSummary
from sso_api.serializers import (
    LogoutAllResponseSerializer,
    LogoutResponseSerializer,
    ResponseSerializer,
    SessionSerializer,
    StartResponseSerializer,
    TokenPairSerializer,
    TokenResponseSerializer,
    UserSerializer,
)

USER = {
    "id": 7,  # an integer primary key: rendered as the string the schema promises
    "username": "ada@contoso.example",
    "email": "",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "tenant_id": None,
    "object_id": None,
    "roles": ["Admin"],
    "groups": [],
}
PAIR = {"access": "a", "refresh": "r", "token_type": "Bearer", "expires_in": 300, "user": USER}
WITHOUT_REFRESH = {key: value for key, value in PAIR.items() if key != "refresh"}
SESSION = SessionSummary(
    id="5f0c6a3e-9a43-4bd2-8a77-3b1d0e6f1c2a",
    started_at=datetime(2026, 12, 2, 9, 14, 3, 120000, tzinfo=UTC),
    last_refreshed_at=None,
    expires_at=datetime(2026, 12, 16, 9, 14, 3, tzinfo=UTC),
    user_agent="Phone <b>Browser</b>",
    method="exchange",
    current=False,
)

CASES: list[tuple[type[ResponseSerializer], Any]] = [
    (UserSerializer, USER),
    (TokenPairSerializer, PAIR),
    (TokenPairSerializer, WITHOUT_REFRESH),
    (TokenResponseSerializer, PAIR),
    (StartResponseSerializer, {"authorization_url": "https://x/", "state": "s", "expires_in": 600}),
    (LogoutResponseSerializer, {"logout_url": None}),
    (LogoutAllResponseSerializer, {"ended": 2}),
    (SessionSerializer, SESSION),
]


@pytest.mark.parametrize(("serializer_class", "instance"), CASES)
def test_a_response_body_is_what_drf_itself_would_render(
    serializer_class: type[ResponseSerializer], instance: Any
) -> None:
    ours = serializer_class(instance).data
    drfs = serializers.Serializer.to_representation(serializer_class(instance), instance)

    assert ours == drfs
    assert list(ours) == list(drfs)


def test_a_list_of_sessions_renders_each_one_alike() -> None:
    listed: Any = SessionSerializer([SESSION, SESSION], many=True).data
    assert listed == [SessionSerializer(SESSION).data] * 2


def test_a_missing_required_value_is_an_error_not_a_short_body() -> None:
    with pytest.raises(KeyError):
        _ = UserSerializer({"id": "1"}).data


@pytest.mark.parametrize(
    "field",
    [
        serializers.CharField(source="other"),
        serializers.CharField(default="x"),
        serializers.CharField(write_only=True),
        serializers.SerializerMethodField(),
    ],
)
def test_a_response_field_drf_would_render_differently_is_refused(field: Any) -> None:
    class Odd(ResponseSerializer):
        value = field

    with pytest.raises(ImproperlyConfigured):
        _ = Odd({"value": "v"}).data


def test_a_missing_nullable_value_renders_null_as_drf_does() -> None:
    class Nullable(ResponseSerializer):
        value = serializers.CharField(allow_null=True)

    assert Nullable({}).data == serializers.Serializer.to_representation(Nullable({}), {})
