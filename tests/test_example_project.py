"""The example project's secrets: DEBUG off by default, no start with the published key,
and tokens signed with a key of their own (HS256) or a key pair (RS256).

Each test loads the example's settings in a fresh interpreter, because they are read from
the environment once, at import, and refusing to start means raising at import.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example" / "manage.py"
RUN_DEMO = ROOT / "example" / "run_demo.py"

# The development key written in example/example_project/settings.py, and so known to
# anybody who has read the repository: what an attacker would sign a token with.
PUBLISHED_EXAMPLE_KEY = "example-only-not-secret-change-me-0123456789"
REAL_SECRET_KEY = "tests-only-a-real-secret-key-7c1f0e9b4d2a86f3e5b7c9d1a3f5e7b9"
REAL_JWT_KEY = "tests-only-a-real-jwt-signing-key-2b4d6f8a0c2e4a6c8e0a2c4e6a8c0e2a"

# Loads the settings, mints an access token as sso_api does (through simplejwt) and says
# which of the tokens given as arguments simplejwt accepts.
_PROBE = """
import json, sys
import django
django.setup()
from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

def accepted(raw):
    try:
        AccessToken(raw)
    except TokenError:
        return False
    return True

print(json.dumps({
    "debug": settings.DEBUG,
    "secret_key": settings.SECRET_KEY,
    "algorithm": settings.SIMPLE_JWT.get("ALGORITHM", "HS256"),
    "minted": str(AccessToken()),
    "accepted": [accepted(raw) for raw in sys.argv[1:]],
}))
"""


def example_env(**variables: str) -> dict[str, str]:
    """This process's environment without any Django or sign-in configuration, plus
    ``variables``: the example project exactly as ``variables`` configure it."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "MICROSOFT_SSO_", "SSO_"))
    }
    return {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        # Placeholders that keep sso_api's configuration checks quiet.
        "MICROSOFT_SSO_APPLICATION_ID": "example",
        "MICROSOFT_SSO_CLIENT_SECRET": "example",
        "MICROSOFT_SSO_TENANT_ID": "example",
        **variables,
    }


def run_example(*arguments: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Python with ``arguments`` in the example project, configured by ``variables``."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT / "example",
        env=example_env(**variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def manage_check(**variables: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check`` of the example project configured by ``variables``."""
    return run_example(str(MANAGE), "check", **variables)


def probe(*tokens: str, **variables: str) -> dict[str, Any]:
    """The example's settings as ``variables`` configure them, a token minted with them,
    and for each of ``tokens`` whether simplejwt accepts it."""
    result = run_example("-c", _PROBE, *tokens, **variables)
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_access_token(key: str) -> str:
    """An access token with the claims simplejwt and sso_api put in one, signed with
    ``key`` (HS256) by someone who never signed in.

    Signed by hand, as an attacker would: PyJWT refuses to use a PEM public key as an
    HMAC secret, and that is one of the forgeries tried here.
    """
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": "1",
        "sso_tid": str(uuid.uuid4()),
        "sso_oid": str(uuid.uuid4()),
        "sso_user": {
            "id": "1",
            "username": "admin",
            "email": "admin@example.com",
            "first_name": "",
            "last_name": "",
            "groups": [],
        },
        "roles": [],
    }
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = ".".join(
        _base64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_base64url(signature)}"


def test_debug_is_off_unless_DJANGO_DEBUG_is_1() -> None:
    assert probe(DJANGO_SECRET_KEY=REAL_SECRET_KEY)["debug"] is False
    assert probe(DJANGO_SECRET_KEY=REAL_SECRET_KEY, DJANGO_DEBUG="0")["debug"] is False
    assert probe(DJANGO_SECRET_KEY=REAL_SECRET_KEY, DJANGO_DEBUG="1")["debug"] is True


@pytest.mark.parametrize("secret_key", [None, ""], ids=["unset", "empty"])
def test_without_a_secret_key_and_debug_off_the_example_refuses_to_start(
    secret_key: str | None,
) -> None:
    variables = {} if secret_key is None else {"DJANGO_SECRET_KEY": secret_key}
    result = manage_check(**variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"DJANGO_SECRET_KEY": PUBLISHED_EXAMPLE_KEY},
        {"DJANGO_SECRET_KEY": REAL_SECRET_KEY, "DJANGO_JWT_SIGNING_KEY": PUBLISHED_EXAMPLE_KEY},
    ],
    ids=["as-secret-key", "as-jwt-signing-key"],
)
def test_the_published_key_with_debug_off_is_refused(variables: dict[str, str]) -> None:
    result = manage_check(**variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "published development key" in result.stderr


def test_a_real_secret_key_with_debug_off_passes_the_checks() -> None:
    result = manage_check(DJANGO_SECRET_KEY=REAL_SECRET_KEY)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_with_debug_on_the_example_starts_without_keys_yet_refuses_the_published_one() -> None:
    forged = forged_access_token(PUBLISHED_EXAMPLE_KEY)
    assert manage_check(DJANGO_DEBUG="1").returncode == 0
    answer = probe(forged, DJANGO_DEBUG="1")
    assert answer["secret_key"] == PUBLISHED_EXAMPLE_KEY  # allowed for development only
    assert answer["accepted"] == [False]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(answer["minted"], PUBLISHED_EXAMPLE_KEY, algorithms=["HS256"])


def test_tokens_are_signed_with_DJANGO_JWT_SIGNING_KEY_not_the_secret_key() -> None:
    answer = probe(
        forged_access_token(REAL_JWT_KEY),
        forged_access_token(REAL_SECRET_KEY),
        forged_access_token(PUBLISHED_EXAMPLE_KEY),
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
        DJANGO_JWT_SIGNING_KEY=REAL_JWT_KEY,
    )
    assert answer["algorithm"] == "HS256"
    assert jwt.decode(answer["minted"], REAL_JWT_KEY, algorithms=["HS256"])["token_type"] == (
        "access"
    )
    assert answer["accepted"] == [True, False, False]


def test_without_a_jwt_signing_key_tokens_are_signed_with_the_real_secret_key() -> None:
    answer = probe(
        forged_access_token(REAL_SECRET_KEY),
        forged_access_token(PUBLISHED_EXAMPLE_KEY),
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
    )
    assert jwt.decode(answer["minted"], REAL_SECRET_KEY, algorithms=["HS256"])
    assert answer["accepted"] == [True, False]


@pytest.fixture
def rsa_key_files(tmp_path: Path) -> dict[str, Path]:
    """A fresh RSA key pair as PEM files, like the openssl commands in docs/security.md
    make: ``private`` (PKCS#8) and ``public`` (SubjectPublicKeyInfo)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {"private": tmp_path / "jwt-private.pem", "public": tmp_path / "jwt-public.pem"}
    files["private"].write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files["public"].write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return files


def test_rs256_key_files_sign_tokens_with_the_private_key(
    rsa_key_files: dict[str, Path],
) -> None:
    answer = probe(
        forged_access_token(REAL_SECRET_KEY),
        forged_access_token(rsa_key_files["public"].read_text()),
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
        DJANGO_JWT_PRIVATE_KEY_FILE=str(rsa_key_files["private"]),
        DJANGO_JWT_PUBLIC_KEY_FILE=str(rsa_key_files["public"]),
    )
    assert answer["algorithm"] == "RS256"
    public_key = rsa_key_files["public"].read_text()
    assert jwt.decode(answer["minted"], public_key, algorithms=["RS256"])
    # HS256 tokens are refused, including one "signed" with the public key, which anybody
    # may have (the classic algorithm confusion).
    assert answer["accepted"] == [False, False]


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("only-private", "needs both"),
        ("missing-file", "cannot read"),
        ("with-shared-key", "choose one"),
    ],
)
def test_inconsistent_rs256_settings_are_refused(
    rsa_key_files: dict[str, Path], tmp_path: Path, which: str, message: str
) -> None:
    variables = {
        "DJANGO_SECRET_KEY": REAL_SECRET_KEY,
        "DJANGO_JWT_PRIVATE_KEY_FILE": str(rsa_key_files["private"]),
        "DJANGO_JWT_PUBLIC_KEY_FILE": str(rsa_key_files["public"]),
    }
    if which == "only-private":
        del variables["DJANGO_JWT_PUBLIC_KEY_FILE"]
    elif which == "missing-file":
        variables["DJANGO_JWT_PUBLIC_KEY_FILE"] = str(tmp_path / "absent.pem")
    else:
        variables["DJANGO_JWT_SIGNING_KEY"] = REAL_JWT_KEY
    result = manage_check(**variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_the_demo_makes_its_own_keys_once_per_state_directory_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    spec = importlib.util.spec_from_file_location("run_demo", RUN_DEMO)
    assert spec is not None
    assert spec.loader is not None
    run_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_demo)

    secret_key = run_demo._demo_secret(tmp_path, "django-secret-key")
    jwt_key = run_demo._demo_secret(tmp_path, "jwt-signing-key")
    assert len({secret_key, jwt_key, PUBLISHED_EXAMPLE_KEY}) == 3
    assert len(jwt_key) >= 50
    for name in ("django-secret-key", "jwt-signing-key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    # The next start reuses them, so signed-in users stay signed in.
    assert run_demo._demo_secret(tmp_path, "jwt-signing-key") == jwt_key
    other_state_dir = tmp_path / "other-state"
    other_state_dir.mkdir()
    assert run_demo._demo_secret(other_state_dir, "jwt-signing-key") != jwt_key


# Loads the settings, generates the schema as /api/schema/ does and renders Swagger UI's
# page, and prints what Swagger UI is told about the entraOAuth2 scheme.
_SWAGGER_PROBE = """
import json
import django
django.setup()
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

schema = SchemaGenerator().get_schema(request=None, public=True)
page = Client(HTTP_HOST="127.0.0.1").get("/api/docs/")
print(json.dumps({
    "flow": schema["components"]["securitySchemes"]["entraOAuth2"]["flows"]["authorizationCode"],
    "page": page.content.decode(),
}))
"""


def swagger_probe(**variables: str) -> dict[str, Any]:
    """The entraOAuth2 flow of the example's schema and its Swagger UI page, as
    ``variables`` configure the example."""
    result = run_example("-c", _SWAGGER_PROBE, DJANGO_SECRET_KEY=REAL_SECRET_KEY, **variables)
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_swagger_ui_authorizes_as_its_own_app_where_a_browser_reaches_the_authority() -> None:
    probed = swagger_probe(
        MICROSOFT_SSO_AUTHORITY="https://127.0.0.1:9443/organizations",
        SSO_SWAGGER_AUTHORITY="http://127.0.0.1:9080/organizations/",
        SSO_SWAGGER_CLIENT_ID="swagger-ui-client",
    )

    assert probed["flow"]["authorizationUrl"] == (
        "http://127.0.0.1:9080/organizations/oauth2/v2.0/authorize"
    )
    assert probed["flow"]["tokenUrl"] == "http://127.0.0.1:9080/organizations/oauth2/v2.0/token"
    assert list(probed["flow"]["scopes"]) == ["api://example/access_as_user"]
    init_oauth = probed["page"].split("ui.initOAuth(", 1)[1].split(");", 1)[0]
    assert json.loads(init_oauth) == {
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": ["openid", "api://example/access_as_user"],
        "clientId": "swagger-ui-client",
    }
    assert (
        'oauth2RedirectUrl: location.origin + "/static/drf_spectacular_sidecar/'
        'swagger-ui-dist/oauth2-redirect.html"' in probed["page"]
    )


def test_without_the_demos_variables_swagger_ui_signs_in_at_the_apis_authority() -> None:
    probed = swagger_probe(MICROSOFT_SSO_TENANT_ID="contoso.example")

    authority = "https://login.microsoftonline.com/contoso.example"
    assert probed["flow"]["authorizationUrl"] == f"{authority}/oauth2/v2.0/authorize"
    assert probed["flow"]["tokenUrl"] == f"{authority}/oauth2/v2.0/token"
    init_oauth = json.loads(probed["page"].split("ui.initOAuth(", 1)[1].split(");", 1)[0])
    # No client id: the Authorize dialog asks for one; PKCE and the scopes stay.
    assert "clientId" not in init_oauth
    assert init_oauth["usePkceWithAuthorizationCodeGrant"] is True
