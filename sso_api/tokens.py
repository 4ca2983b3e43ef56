"""Our own JWTs, on top of djangorestframework-simplejwt.

Access tokens are plain simplejwt access tokens, so ``JWTAuthentication`` accepts them
anywhere in the project. They also carry the Microsoft identity (``sso_tid``, ``sso_oid``)
and the user's profile as of minting (``sso_user``), which is all ``/me/`` shows.

Refresh tokens are simplejwt refresh tokens that also name their family (a
:class:`~sso_api.models.RefreshSession`) in the ``sso_fam`` claim. Around them:

* **rotation**: each refresh returns a new pair and the old refresh token dies;
* **reuse detection**: presenting a refresh token that was already rotated revokes the
  whole family (RFC 9700, section 4.14.2), so a stolen token is good for one use at most,
  and its use signs the real user out;
* **absolute lifetime**: a family ends ``MICROSOFT_SSO_SESSION_LIFETIME`` after sign-in;
  rotation never pushes a refresh token's ``exp`` past it;
* **revocation** by logout, and by Microsoft session id for front-channel logout;
* **sessions people can see and end**: a user's live families, ended one by one or all at
  once by the user, an administrator, deactivation or deletion of the user, and the purge
  of rows that ended long ago.

Rotation is one conditional UPDATE (``WHERE current_jti = <presented jti>``), so when two
requests race with the same token the database lets exactly one through.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token

from sso_api import audit
from sso_api.conf import SSOSettings
from sso_api.exceptions import (
    InvalidRefreshToken,
    RefreshTokenReused,
    SessionExpired,
    SessionRevoked,
)
from sso_api.models import (
    USER_AGENT_MAX_LENGTH,
    MicrosoftIdentity,
    RefreshSession,
    RevocationReason,
    SignInMethod,
)

FAMILY_CLAIM = "sso_fam"
# The Microsoft identity the family was issued for, copied into every access token so
# that /me/ needs no query to name it.
TENANT_CLAIM = "sso_tid"
OBJECT_CLAIM = "sso_oid"
# The user as /me/ shows them, copied into every access token at minting (sign-in and each
# refresh) so that /me/ needs no query at all.
USER_CLAIM = "sso_user"


# The app roles of the sign-in, as Entra's own tokens name them, so that a permission can
# decide from the access token alone (sso_api.permissions.HasAppRole).
ROLES_CLAIM = "roles"

# The delegated scopes, space-separated, as Entra's own access tokens name them.
SCOPES_CLAIM = "scp"

_TEXT_FIELDS = ("id", "username", "email", "first_name", "last_name")

#: The user as /token/ and /me/ show them: the text fields above, and ``groups``, the names
#: of the user's Django groups.
Profile = dict[str, Any]


def user_profile(user: AbstractBaseUser) -> Profile:
    """The user fields /me/ shows (custom user models may lack some); one query for groups.

    ``id`` is the primary key, whatever simplejwt's ``USER_ID_FIELD`` names.
    """
    optional = ("email", "first_name", "last_name")
    groups = getattr(user, "groups", None)
    return {
        "id": str(user.pk),
        "username": user.get_username(),
        **{name: str(getattr(user, name, "") or "") for name in optional},
        "groups": sorted(groups.values_list("name", flat=True)) if groups is not None else [],
    }


def profile_from_claim(claim: Any) -> Profile | None:
    """The profile an access token of ours carries, or None when it carries none (or an
    incomplete one, such as a token minted before ``groups`` was part of it)."""
    if not (isinstance(claim, dict) and set(_TEXT_FIELDS) <= set(claim)):
        return None
    groups = claim.get("groups")
    if not isinstance(groups, list):
        return None
    return {
        **{name: str(claim[name] or "") for name in _TEXT_FIELDS},
        "groups": [str(name) for name in groups],
    }


def scopes_from_claims(claims: Any) -> list[str]:
    """The delegated scopes a verified access token of ours carries; none for another."""
    if identity_from_claims(claims) is None:
        return []
    scopes = claims.get(SCOPES_CLAIM)
    return str(scopes).split() if isinstance(scopes, str) else []


def roles_from_claims(claims: Any) -> list[str]:
    """The app roles a verified access token of ours carries; none for any other token.

    A token minted elsewhere in the project may carry a ``roles`` claim of the project's
    own making: only a token that names the Microsoft identity it was issued for (ours)
    speaks for Entra's app roles.
    """
    if identity_from_claims(claims) is None:
        return []
    roles = claims.get(ROLES_CLAIM)
    return [str(role) for role in roles] if isinstance(roles, list) else []


def identity_from_claims(claims: Any) -> tuple[str, str] | None:
    """``(tenant id, object id)`` named by a verified token of ours, or None."""
    if not isinstance(claims, dict):
        return None
    tenant_id, object_id = claims.get(TENANT_CLAIM), claims.get(OBJECT_CLAIM)
    if isinstance(tenant_id, str) and isinstance(object_id, str) and tenant_id and object_id:
        return tenant_id, object_id
    return None


class TokenProfileUser(TokenUser):
    """The user of a verified access token of ours: its signed profile, read without a query.

    ``profile`` holds the fields ``/me/`` shows, as of the token's minting.
    """

    def __init__(self, token: Token, profile: Profile) -> None:
        super().__init__(token)
        self.profile = profile


def profile_user(validated_token: Token) -> TokenProfileUser | None:
    """The user an access token of ours describes, or None for a token without a profile."""
    profile = profile_from_claim(validated_token.get(USER_CLAIM))
    return None if profile is None else TokenProfileUser(validated_token, profile)


class SSORefreshToken(RefreshToken):
    """A refresh token of a sign-in family.

    Its own ``token_type`` makes simplejwt's stock views (``TokenRefreshView``,
    ``TokenBlacklistView``), which a project may have mounted too, refuse it: they know
    nothing of families, so they would refresh a token that was signed out or reused.
    """

    token_type = "sso_refresh"  # noqa: S105 (a type name, not a secret)


@dataclass(frozen=True)
class TokenPair:
    """A freshly minted access and refresh token, for the family ``session``."""

    access: str
    refresh: str
    access_expires_in: int
    session: RefreshSession
    #: The user as the access token describes them.
    profile: Profile


def _mint(user: AbstractBaseUser, session: RefreshSession) -> TokenPair:
    refresh = SSORefreshToken.for_user(user)
    refresh[jwt_settings.JTI_CLAIM] = session.current_jti
    refresh[FAMILY_CLAIM] = str(session.id)
    refresh[TENANT_CLAIM] = session.identity.tenant_id
    refresh[OBJECT_CLAIM] = session.identity.object_id
    if refresh["exp"] > int(session.expires_at.timestamp()):
        refresh["exp"] = int(session.expires_at.timestamp())
    access = refresh.access_token
    # Only the access token: the refresh token is read by nothing that needs a profile.
    profile = user_profile(user)
    access[USER_CLAIM] = profile
    access[ROLES_CLAIM] = list(session.identity.roles or [])
    access[SCOPES_CLAIM] = session.scopes
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        access_expires_in=int(access["exp"]) - int(access["iat"]),
        profile=profile,
        session=session,
    )


def issue_tokens(
    user: AbstractBaseUser,
    *,
    identity: MicrosoftIdentity,
    microsoft_session_id: str | None,
    conf: SSOSettings,
    scopes: tuple[str, ...] | None = None,
    method: SignInMethod = SignInMethod.BROWSER,
    user_agent: str = "",
) -> TokenPair:
    """Start a new refresh family for ``user`` and return its first token pair.

    The family lives for ``conf.session_lifetime``, read for the request that signs in.
    Its access tokens carry ``scopes`` as ``scp`` (default: this API's scope, which a
    browser sign-in to this API grants). ``method`` and ``user_agent`` are kept for the
    user's list of sessions.
    """
    now = timezone.now()
    session = RefreshSession.objects.create(
        user=cast(Any, user),
        identity=identity,
        microsoft_session_id=microsoft_session_id or "",
        current_jti=uuid.uuid4().hex,
        expires_at=now + conf.session_lifetime,
        scopes=" ".join(scopes if scopes is not None else (conf.api_scope,))[:1024],
        method=method,
        user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
    )
    return _mint(user, session)


def _decode_refresh(raw_refresh: str) -> tuple[SSORefreshToken, str]:
    """Verify a refresh token of ours; returns it and its family id.

    Raises :class:`InvalidRefreshToken` for a bad signature, an expired or non-refresh
    token, or a refresh token not issued by this app (no family claim).
    """
    try:
        token = SSORefreshToken(raw_refresh)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidRefreshToken() from exc
    family = token.get(FAMILY_CLAIM)
    if not isinstance(family, str):
        raise InvalidRefreshToken("refresh token has no family claim")
    return token, family


def _load_family(family_id: str) -> RefreshSession:
    try:
        return RefreshSession.objects.select_related("user", "identity").get(pk=family_id)
    except (RefreshSession.DoesNotExist, ValidationError, ValueError) as exc:
        raise InvalidRefreshToken("unknown refresh family") from exc


# How many families one UPDATE ends at most.
REVOKE_BATCH = 1000


def _revoke(
    filter_kwargs: dict[str, Any],
    reason: RevocationReason,
    now: datetime,
    *,
    actor_id: object = None,
) -> int:
    """Revoke the unrevoked families matching ``filter_kwargs``; reports each one revoked.

    A SELECT of the ones to report, then one UPDATE of exactly those per
    :data:`REVOKE_BATCH` of them (a family created meanwhile is neither revoked nor
    reported). ``actor_id`` is the user who ended them, when a person did.
    """
    unrevoked = RefreshSession.objects.filter(revoked_at__isnull=True, **filter_kwargs)
    revoked = list(unrevoked.values_list("pk", "user_id"))
    count = 0
    # One UPDATE per REVOKE_BATCH families: one for any real person's sessions, and never
    # an IN list longer than a database accepts (SQLite: 32,766 parameters).
    for start in range(0, len(revoked), REVOKE_BATCH):
        batch = [session_id for session_id, _user_id in revoked[start : start + REVOKE_BATCH]]
        count += RefreshSession.objects.filter(pk__in=batch, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason
        )
    for session_id, user_id in revoked:
        if reason == RevocationReason.REUSE:
            audit.emit(
                audit.refresh_reuse_detected,
                "refresh_reuse_detected",
                level=logging.WARNING,
                session_id=session_id,
                user_id=user_id,
            )
        else:
            audit.emit(
                audit.session_revoked,
                "session_revoked",
                session_id=session_id,
                user_id=user_id,
                reason=str(reason),
                actor_id=actor_id,
            )
    return count


def rotate_refresh_token(raw_refresh: str) -> TokenPair:
    """Exchange a refresh token for a new pair; the presented one stops working.

    Raises :class:`InvalidRefreshToken`, :class:`SessionRevoked`, :class:`SessionExpired`,
    or :class:`RefreshTokenReused` (after revoking the family) when the token was already
    rotated or lost a race with a concurrent rotation.
    """
    token, family_id = _decode_refresh(raw_refresh)
    session = _load_family(family_id)
    now = timezone.now()
    if session.revoked_at is not None:
        raise SessionRevoked()
    if session.expires_at <= now:
        raise SessionExpired()
    if not session.user.is_active:
        _revoke({"pk": session.pk}, RevocationReason.USER_INACTIVE, now)
        raise SessionRevoked("user is inactive")

    new_jti = uuid.uuid4().hex
    rotated = RefreshSession.objects.filter(
        pk=session.pk, current_jti=str(token[jwt_settings.JTI_CLAIM]), revoked_at__isnull=True
    ).update(current_jti=new_jti, last_refreshed_at=now)
    if rotated != 1:
        _revoke({"pk": session.pk}, RevocationReason.REUSE, now)
        raise RefreshTokenReused()
    session.current_jti = new_jti
    audit.emit(audit.token_refreshed, "token_refreshed", session=session)
    return _mint(session.user, session)


def revoke_refresh_family(raw_refresh: str) -> RefreshSession:
    """Sign out the family of ``raw_refresh`` (any token of it, even a rotated one).

    Raises :class:`InvalidRefreshToken` when the token is not a valid refresh token of ours.
    """
    _token, family_id = _decode_refresh(raw_refresh)
    session = _load_family(family_id)
    _revoke({"pk": session.pk}, RevocationReason.LOGOUT, timezone.now())
    return session


def revoke_microsoft_session(microsoft_session_id: str, *, tenant_id: str | None = None) -> int:
    """Revoke every family issued for Microsoft session ``microsoft_session_id``.

    With ``tenant_id``, only families whose identity belongs to that tenant: a session id
    is Microsoft's to give within the issuer that sent the logout. Returns how many
    families were revoked.
    """
    if not microsoft_session_id:
        return 0
    scope: dict[str, Any] = {"microsoft_session_id": microsoft_session_id}
    if tenant_id is not None:
        scope["identity__tenant_id"] = tenant_id
    return _revoke(scope, RevocationReason.FRONT_CHANNEL, timezone.now())


# The most sessions a user's list shows: the newest ones. A person has a handful; the
# bound keeps a scripted account with thousands of sign-ins from making the list costly.
LISTED_SESSIONS = 100


def live_sessions(user_id: object) -> list[RefreshSession]:
    """The user's sessions that can still refresh, newest first (one query).

    At most :data:`LISTED_SESSIONS` of them.
    """
    return list(
        RefreshSession.objects.filter(
            user_id=cast(Any, user_id), revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).order_by("-created_at")[:LISTED_SESSIONS]
    )


def session_of_access_token(claims: Any) -> str | None:
    """The family (session id) an access token of ours was minted for, if any."""
    family = claims.get(FAMILY_CLAIM) if hasattr(claims, "get") else None
    return family if isinstance(family, str) else None


def end_session(
    user_id: object, session_id: str, reason: RevocationReason, *, actor_id: object = None
) -> bool:
    """End the live session ``session_id`` if it belongs to ``user_id``.

    Returns False when there is no such live session of that user: unknown, malformed,
    someone else's, already ended or expired are all the same answer.
    """
    try:
        family = uuid.UUID(str(session_id))
    except ValueError:
        return False
    now = timezone.now()
    scope = {"pk": family, "user_id": user_id, "expires_at__gt": now}
    return _revoke(scope, reason, now, actor_id=actor_id) == 1


def end_sessions_of_user(
    user_id: object, reason: RevocationReason, *, actor_id: object = None
) -> int:
    """End every live session of ``user_id``; returns how many ended.

    One SELECT and one UPDATE (per :data:`REVOKE_BATCH` sessions).
    """
    now = timezone.now()
    return _revoke({"user_id": user_id, "expires_at__gt": now}, reason, now, actor_id=actor_id)


def end_sessions_of_identities(
    identity_ids: Iterable[object], reason: RevocationReason, *, actor_id: object = None
) -> int:
    """End every live session begun with one of ``identity_ids``; returns how many ended."""
    now = timezone.now()
    return _revoke(
        {"identity_id__in": list(identity_ids), "expires_at__gt": now},
        reason,
        now,
        actor_id=actor_id,
    )


def end_sessions(
    session_ids: Iterable[object], reason: RevocationReason, *, actor_id: object = None
) -> int:
    """End the live sessions among ``session_ids`` (an administrator's selection)."""
    now = timezone.now()
    return _revoke(
        {"pk__in": list(session_ids), "expires_at__gt": now}, reason, now, actor_id=actor_id
    )


def purge_ended_sessions(older_than: timedelta, *, batch_size: int = 1000) -> Iterator[int]:
    """Delete session rows that were revoked, or expired, more than ``older_than`` ago.

    One short transaction per batch of at most ``batch_size`` rows, found by the indexes
    on ``revoked_at`` and ``expires_at`` and deleted by primary key: only the rows being
    deleted are locked, and only for their batch, so sign-ins and refreshes go on while
    a large table is purged. Yields the number of rows each batch deleted.
    """
    cutoff = timezone.now() - older_than
    ended_long_ago = Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    while True:
        with transaction.atomic():
            batch = list(
                RefreshSession.objects.filter(ended_long_ago)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                return
            deleted, _by_model = RefreshSession.objects.filter(pk__in=batch).delete()
        yield deleted
