"""Serializers whose fields are built once per class behave exactly as DRF's own.

Response bodies render as DRF renders them; request bodies validate to DRF's data and
errors (codes included), from any number of threads at once.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import SkipField

from sso_api.flows import SessionSummary
from sso_api.serializers import (
    ExchangeRequestSerializer,
    LogoutAllResponseSerializer,
    LogoutRequestSerializer,
    LogoutResponseSerializer,
    RefreshRequestSerializer,
    RequestSerializer,
    ResponseSerializer,
    SessionSerializer,
    StartRequestSerializer,
    StartResponseSerializer,
    TokenPairSerializer,
    TokenRequestSerializer,
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


# --- Request bodies -------------------------------------------------------------------------

REQUEST_SERIALIZERS: list[type[RequestSerializer]] = [
    StartRequestSerializer,
    TokenRequestSerializer,
    ExchangeRequestSerializer,
    RefreshRequestSerializer,
    LogoutRequestSerializer,
]

# Bodies that are no body at all, or carry nothing any of them knows: every serializer gets them.
NOT_A_BODY: list[Any] = [None, [], [{"next": "/"}], "next=/", 7, {}, {"unknown": "x"}]

BODIES: dict[type[RequestSerializer], list[Any]] = {
    StartRequestSerializer: [
        {"next": "/after", "prompt": "login", "redirect": "true"},
        {"redirect": "1"},
        {"redirect": "yes"},
        {"redirect": "off"},
        {"redirect": "maybe"},
        {"redirect": None},
        {"next": "", "code_challenge": "", "login_hint": "", "domain_hint": ""},
        {"next": "x" * 4096},
        {"next": "x" * 4097, "code_challenge": "c" * 129, "code_challenge_method": "S" * 17},
        {"code_challenge": "abc", "code_challenge_method": "plain"},
        {"next": 5},
        {"next": ["/a"]},
        {"next": None},
        {"next": "   "},
        {"prompt": "bogus"},
        {"prompt": ""},
        {"prompt": ["login"]},
        {"next": "/after", "unknown": "x"},
        # Query strings and form posts (GET /start/, form-encoded POST): DRF's HTML input rules.
        QueryDict("next=/after&redirect=on&prompt=none"),
        QueryDict("redirect=&next=&prompt="),
        QueryDict(""),
    ],
    TokenRequestSerializer: [
        {"sso_code": "c"},
        {"sso_code": "c", "code_verifier": ""},
        {"sso_code": ""},
        {"sso_code": "c" * 257, "code_verifier": "v" * 257},
        {"sso_code": None},
        {"sso_code": {"nested": "c"}},
        {"code_verifier": "v"},
        QueryDict("sso_code=c&code_verifier="),
    ],
    ExchangeRequestSerializer: [
        {"access_token": "t"},
        {"access_token": 12},
        {"access_token": True},
        {"access_token": "t" * 16385},
        {"access_token": ""},
    ],
    RefreshRequestSerializer: [
        {"refresh": "r"},
        {"refresh": ""},
        {"refresh": None},
        {"refresh": "r" * 4097},
        QueryDict("refresh="),
    ],
    LogoutRequestSerializer: [
        {"refresh": "r", "next": "/bye"},
        {"next": "myapp://signed-out"},
        {"refresh": "", "next": "x" * 4097},
    ],
}

REQUEST_CASES: list[tuple[type[RequestSerializer], Any]] = [
    (serializer_class, body)
    for serializer_class in REQUEST_SERIALIZERS
    for body in [*NOT_A_BODY, *BODIES[serializer_class]]
]


def drf_own(
    serializer_class: type[serializers.Serializer[Any]], *mixins: type
) -> type[serializers.Serializer[Any]]:
    """A plain DRF serializer with the same fields as ``serializer_class`` (and ``mixins``)."""
    declared = dict(serializer_class().get_fields())
    plain = type(f"Plain{serializer_class.__name__}", (*mixins, serializers.Serializer), declared)
    return cast("type[serializers.Serializer[Any]]", plain)


def with_codes(detail: Any) -> Any:
    """Errors as (message, code) pairs, keys in order: what ``==`` on ErrorDetail hides."""
    if isinstance(detail, dict):
        return [(key, with_codes(value)) for key, value in detail.items()]
    if isinstance(detail, list):
        return [with_codes(item) for item in detail]
    assert isinstance(detail, ErrorDetail)
    return (str(detail), detail.code)


def outcome(serializer: serializers.Serializer[Any]) -> tuple[bool, Any, Any]:
    valid = serializer.is_valid()
    return valid, list(serializer.validated_data.items()), with_codes(serializer.errors)


@pytest.mark.parametrize(("serializer_class", "body"), REQUEST_CASES)
def test_a_request_body_validates_as_drf_itself_would(
    serializer_class: type[RequestSerializer], body: Any
) -> None:
    assert outcome(serializer_class(data=body)) == outcome(drf_own(serializer_class)(data=body))


def test_the_defaults_and_omissions_are_drfs() -> None:
    serializer = StartRequestSerializer(data={"next": "/after", "redirect": "1"})
    assert serializer.is_valid()
    assert serializer.validated_data == {"next": "/after", "redirect": True}

    serializer = StartRequestSerializer(data={})
    assert serializer.is_valid()
    assert serializer.validated_data == {"redirect": False}


class _Hooks:
    """Per-field and whole-body validation methods, as a serializer may define them."""

    def validate_name(self, value: str) -> str:
        if value == "taken":
            raise DjangoValidationError("Taken.", code="taken")
        if value == "reserved":
            raise serializers.ValidationError("Reserved.", code="reserved")
        if value == "skip":
            raise SkipField
        return value.upper()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("nickname") == attrs.get("name"):
            raise serializers.ValidationError("Same name twice.", code="same")
        return attrs


class Hooked(_Hooks, RequestSerializer):
    name = serializers.CharField()
    alias = serializers.CharField(source="nickname", required=False)
    counts = serializers.ListField(child=serializers.IntegerField(), required=False)
    shown = serializers.SerializerMethodField()  # read-only: not validated, as in DRF
    kept = serializers.CharField(read_only=True)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "ada", "alias": "countess", "counts": ["1", 2], "shown": "x", "kept": "y"},
        {"name": "taken"},
        {"name": "reserved", "counts": ["one"]},
        {"name": "skip", "alias": "a"},
        {"name": "SAME", "alias": "SAME"},
        QueryDict("name=ada&counts=1&counts=2"),
    ],
)
def test_validate_methods_sources_and_read_only_fields_work_as_in_drf(body: Any) -> None:
    assert outcome(Hooked(data=body)) == outcome(drf_own(Hooked, _Hooks)(data=body))


@pytest.mark.parametrize("body", [{}, {"redirect": "true"}, {"prompt": "bogus"}, []])
def test_a_partial_validation_is_drfs(body: Any) -> None:
    ours = StartRequestSerializer(data=body, partial=True)
    assert outcome(ours) == outcome(drf_own(StartRequestSerializer)(data=body, partial=True))


def test_a_list_of_bodies_validates_each_one_as_drf_does() -> None:
    bodies = [{"next": "/a"}, {"prompt": "bogus"}, {}]
    ours = StartRequestSerializer(data=bodies, many=True)
    drfs = drf_own(StartRequestSerializer)(data=bodies, many=True)
    assert ours.is_valid() == drfs.is_valid()
    assert ours.validated_data == drfs.validated_data
    assert with_codes(ours.errors) == with_codes(drfs.errors)


def test_a_request_serializers_fields_are_built_once_not_per_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Counted(RequestSerializer):
        name = serializers.CharField(max_length=3)

    built: list[object] = []
    drf_get_fields = serializers.Serializer.get_fields

    def counting(self: serializers.Serializer[Any]) -> Any:
        built.append(self)
        return drf_get_fields(self)

    monkeypatch.setattr(serializers.Serializer, "get_fields", counting)
    for serializer_class in REQUEST_SERIALIZERS:
        serializer_class(data={}).is_valid()  # built here, if no test did before
    built.clear()

    for number in range(50):
        assert Counted(data={"name": str(number)}).is_valid()
        assert not Counted(data={"name": "long"}).is_valid()
        for serializer_class, body in REQUEST_CASES:
            serializer_class(data=body).is_valid()

    assert len(built) == 1  # Counted's, on its first validation


def test_each_instance_still_has_its_own_fields_for_the_schema() -> None:
    # drf-spectacular reads ``fields``: they stay DRF's per-instance copies.
    first, second = StartRequestSerializer(), StartRequestSerializer()
    assert first.fields["next"] is not second.fields["next"]
    assert first.fields["next"].parent is first


def test_concurrent_validations_each_get_their_own_result() -> None:
    class FirstUsedByManyThreads(StartRequestSerializer):
        pass

    cases: list[tuple[type[RequestSerializer], Any]] = [
        *REQUEST_CASES,
        *((FirstUsedByManyThreads, body) for body in BODIES[StartRequestSerializer]),
    ]
    expected = [outcome(drf_own(serializer_class)(data=body)) for serializer_class, body in cases]
    threads = 8
    start = threading.Barrier(threads)

    def validate_all(offset: int) -> list[tuple[int, Any]]:
        start.wait()
        results = []
        for step in range(len(cases) * 3):
            index = (offset * 7 + step) % len(cases)
            serializer_class, body = cases[index]
            results.append((index, outcome(serializer_class(data=body))))
        return results

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        with ThreadPoolExecutor(threads) as pool:
            per_thread = list(pool.map(validate_all, range(threads)))
    finally:
        sys.setswitchinterval(interval)

    for results in per_thread:
        for index, result in results:
            assert result == expected[index], cases[index]


class _NeedsContext:
    requires_context = True

    def __call__(self, value: Any, field: Any) -> None:
        pass


class _Nested(serializers.Serializer[Any]):
    value = serializers.CharField()


class _ContextReadingField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        return f"{data} for {self.context.get('request')}"


@pytest.mark.parametrize(
    "field",
    [
        _Nested(),
        serializers.ListField(child=_Nested()),
        serializers.HiddenField(default=serializers.CurrentUserDefault()),
        serializers.HiddenField(default=serializers.CreateOnlyDefault("x")),
        serializers.CharField(validators=[_NeedsContext()]),
        serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.none()),
        serializers.CharField(read_only=True, default="x"),
        serializers.ListField(child=serializers.CharField(), default=[]),
        _ContextReadingField(),
        serializers.ListField(child=_ContextReadingField()),
    ],
    ids=[
        "nested serializer",
        "list of nested serializers",
        "current user default",
        "create-only default",
        "validator that requires context",
        "related field",
        "read-only with a default",
        "mutable default",
        "field class with its own validation",
        "list of such fields",
    ],
)
def test_a_request_field_that_could_read_the_request_is_refused(field: Any) -> None:
    class Odd(RequestSerializer):
        value = field

    with pytest.raises(ImproperlyConfigured, match=r"Odd\.value"):
        Odd(data={"value": "v"}).is_valid()


def test_a_request_serializer_that_builds_its_fields_per_instance_is_refused() -> None:
    # Shared fields would ignore what such a serializer changes for each instance.
    with pytest.raises(TypeError, match="Dynamic"):

        class Dynamic(RequestSerializer):
            value = serializers.CharField()

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.fields.pop("value")

    with pytest.raises(TypeError, match="Extended"):

        class Extended(RequestSerializer):
            def get_fields(self) -> dict[str, Any]:
                return {"value": serializers.CharField()}


def test_a_callable_default_gives_each_request_its_own_value() -> None:
    class Tagged(RequestSerializer):
        tags = serializers.ListField(child=serializers.CharField(), required=False, default=list)

    first = Tagged(data={})
    assert first.is_valid()
    first.validated_data["tags"].append("admin")  # what a view may do with its own data
    second = Tagged(data={})
    assert second.is_valid()
    assert second.validated_data["tags"] == []
