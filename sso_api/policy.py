"""Who may sign in, and which Django user a Microsoft account is.

The rules, in the order they are applied to a validated id_token:

1. ``MICROSOFT_SSO_ALLOWED_TENANTS``, when set, lists the only tenants let in.
2. The email is *trusted* only when Microsoft vouches for it: the ``xms_edov`` claim is
   true, or the app is registered for one tenant and the account is a member (not a
   guest) of it, so that tenant's administrators own the address. Every email-based
   decision below uses the trusted email only; an untrusted one counts as no email.
   This is what defeats the "nOAuth" takeover, where an attacker's own tenant issues a
   token carrying a victim's address.
3. ``MICROSOFT_SSO_ALLOWABLE_DOMAINS``: ``[]`` lets nobody in, ``["*"]`` everyone,
   otherwise the trusted email's domain must equal an entry (case-insensitive) or be a
   subdomain of a ``*.example.com`` entry. No trusted email, no match.
4. The ``PRE_VALIDATE_CALLBACK`` hook may refuse.
5. The user is the one bound to ``(tid, oid)``; on first sign-in, with
   ``MICROSOFT_SSO_UNIQUE_EMAIL``, the existing user with the same trusted email, else a
   new user (``MICROSOFT_SSO_AUTO_CREATE_USERS``).
6. Staff and superuser lists are matched against the trusted email; inactive users are
   refused; the ``PRE_LOGIN_CALLBACK`` hook runs last.

All writes happen in one transaction: any refusal leaves nothing behind.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone

from sso_api import audit
from sso_api.claims import MicrosoftClaims
from sso_api.conf import Hook, SSOSettings, authorization_key, is_object_id
from sso_api.exceptions import (
    DomainNotAllowed,
    EmailNotVerified,
    LoginRefused,
    SSOError,
    TenantNotAllowed,
    UserInactive,
    UserNotFound,
)
from sso_api.local_cache import LocalCache
from sso_api.models import EntraGroupMembership, MicrosoftIdentity

# The tenant of personal Microsoft accounts. Its issuer is fixed, like a single tenant's,
# but no administrator of the app's organization vouches for its members' addresses.
CONSUMERS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"


def app_is_single_tenant(issuer: str, tenant_id: str) -> bool:
    """Whether the app is registered for one organization's tenant only.

    ``issuer`` is the discovery document's: multi-tenant authorities publish it as a
    template with ``{tenantid}``.
    """
    return "{tenantid}" not in issuer and tenant_id.lower() != CONSUMERS_TENANT_ID


@dataclass(frozen=True)
class SignedInUser:
    user: AbstractBaseUser
    identity: MicrosoftIdentity
    created: bool


def trusted_email(claims: MicrosoftClaims, *, single_tenant_app: bool) -> str | None:
    """The account's email if Microsoft vouches for it, lower-cased; else None."""
    if not claims.email or "@" not in claims.email:
        return None
    if claims.email_verified is True:
        return claims.email.lower()
    if single_tenant_app and not claims.is_guest:
        return claims.email.lower()
    return None


def domain_allowed(email: str | None, allowable_domains: list[str]) -> bool:
    """Apply ``MICROSOFT_SSO_ALLOWABLE_DOMAINS`` (already lower-cased) to ``email``."""
    if "*" in allowable_domains:
        return True
    if not email:
        return False
    domain = email.rsplit("@", 1)[1].rstrip(".")
    for entry in allowable_domains:
        if entry.startswith("*."):
            if domain.endswith(entry[1:]):
                return True
        elif domain == entry:
            return True
    return False


def _email_listed(email: str | None, listed: list[str]) -> bool:
    """Staff and superuser lists: a trusted email, listed or matched by ``"*"``."""
    return email is not None and ("*" in listed or email in listed)


def _run_hook(hook: Hook | None, *args: Any) -> Any:
    """Call a project hook; its own exceptions refuse the sign-in as ``login_refused``.

    A hook may raise any :class:`SSOError` to choose the code itself.
    """
    if hook is None:
        return True
    try:
        return hook(*args)
    except SSOError:
        raise
    except Exception as exc:
        raise LoginRefused(f"hook {getattr(hook, '__name__', hook)!r} raised") from exc


def tenant_allowed(tenant_id: str, conf: SSOSettings) -> bool:
    """Rule 1: whether accounts of ``tenant_id`` may sign in here."""
    return not conf.allowed_tenants or tenant_id.lower() in conf.allowed_tenants


def check_allowed(
    claims: MicrosoftClaims, request: HttpRequest, conf: SSOSettings, email: str | None
) -> None:
    """Rules 1 to 4; raises the matching refusal."""
    if not tenant_allowed(claims.tenant_id, conf):
        raise TenantNotAllowed(f"tenant {claims.tenant_id} is not allowed")
    if not domain_allowed(email, conf.allowable_domains):
        raise DomainNotAllowed("no trusted email in an allowed domain")
    if not _run_hook(conf.pre_validate_callback, claims, request):
        raise LoginRefused("PRE_VALIDATE_CALLBACK refused the sign-in")


def _username_for(claims: MicrosoftClaims, email: str | None) -> str:
    """A readable, unused username: the trusted email, else one derived from the oid.

    An untrusted UPN or email is never used: it could squat a name like ``admin``.
    """
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    max_length = getattr(user_model._meta.get_field(field), "max_length", None) or 150
    candidate = (email or f"ms-{claims.object_id}")[:max_length]
    if not user_model._default_manager.filter(**{field: candidate}).exists():
        return candidate
    suffix = hashlib.sha256(f"{claims.tenant_id}:{claims.object_id}".encode()).hexdigest()[:10]
    return f"{candidate[: max_length - len(suffix) - 1]}-{suffix}"


def _names(claims: MicrosoftClaims) -> tuple[str, str]:
    if claims.given_name or claims.family_name:
        return claims.given_name[:150], claims.family_name[:150]
    first, _, last = claims.name.partition(" ")
    return first[:150], last[:150]


def _user_fields(claims: MicrosoftClaims, email: str | None) -> dict[str, Any]:
    first_name, last_name = _names(claims)
    return {"email": email or "", "first_name": first_name, "last_name": last_name}


def _create_user(
    claims: MicrosoftClaims, request: HttpRequest, conf: SSOSettings, email: str | None
) -> AbstractBaseUser:
    user_model = get_user_model()
    fields = _user_fields(claims, email)
    if conf.pre_create_callback is not None:
        fields.update(_run_hook(conf.pre_create_callback, claims, request, dict(fields)) or {})
    # A hook may choose the username; unique usernames are then the hook's business.
    if not fields.get(user_model.USERNAME_FIELD):
        fields[user_model.USERNAME_FIELD] = _username_for(claims, email)
    user: AbstractBaseUser = user_model(**fields)
    user.set_unusable_password()
    if (
        conf.auto_create_first_superuser
        and email
        and not user_model._default_manager.filter(is_superuser=True).exists()
    ):
        user.is_superuser = True  # type: ignore[attr-defined]
        user.is_staff = True  # type: ignore[attr-defined]
    user.save()
    return user


def _existing_user_by_email(
    claims: MicrosoftClaims, conf: SSOSettings, email: str | None
) -> AbstractBaseUser | None:
    """Rule 5's link by email; refuses when the only evidence is an untrusted email."""
    if not conf.unique_email:
        return None
    manager = get_user_model()._default_manager
    if email is None:
        if claims.email and manager.filter(email__iexact=claims.email).exists():
            # Someone here owns that address and Microsoft does not vouch for this one.
            raise EmailNotVerified("untrusted email matches an existing user")
        return None
    matches = list(manager.filter(email__iexact=email)[:2])
    if len(matches) > 1:
        raise LoginRefused("several users share this email")
    return matches[0] if matches else None


def _apply_user_data(
    user: AbstractBaseUser,
    claims: MicrosoftClaims,
    conf: SSOSettings,
    email: str | None,
    created: bool,
) -> None:
    changed: list[str] = []
    if conf.always_update_user_data and not created:
        for name, value in _user_fields(claims, email).items():
            if name == "email" and not value:
                continue  # Never replace a known address with nothing.
            if getattr(user, name, None) != value:
                setattr(user, name, value)
                changed.append(name)
    changed.extend(_apply_flags(user, claims, conf, email))
    if changed:
        user.save(update_fields=changed)


def _authorization_keys(claims: MicrosoftClaims) -> set[str]:
    """The app role values and group object ids the account holds, as the maps key them.

    A role value comes from ``roles`` only, and a group from ``groups`` only when it is an
    object id: a group emitted under its name (sAMAccountName, display name) could
    otherwise equal a role value and grant what the role grants. Object ids found in
    ``roles`` count as groups ("emit groups as role claims" puts them there).
    """
    roles = {role for role in claims.roles if role}
    groups = {value for value in (*claims.groups, *claims.roles) if is_object_id(value)}
    return {authorization_key(value) for value in roles | groups}


def _apply_flags(
    user: AbstractBaseUser, claims: MicrosoftClaims, conf: SSOSettings, email: str | None
) -> list[str]:
    """Set ``is_superuser`` and ``is_staff`` as the lists and ``MICROSOFT_SSO_FLAG_MAP`` say.

    A flag the map names is owned by Entra: set when granted (by the map or by a list),
    cleared when not. A flag it does not name is only ever set, by the lists, as before.
    Superuser implies staff, so that the admin site lets a superuser in; for the same
    reason, owning ``is_superuser`` owns ``is_staff`` too, or a revoked superuser would
    keep the admin site. Returns the names of the fields changed (not saved).
    """
    keys = _authorization_keys(claims)
    flag_map = conf.flag_map
    superuser = _email_listed(email, conf.superuser_list) or bool(
        keys & set(flag_map.get("is_superuser", ()))
    )
    staff = (
        superuser
        or _email_listed(email, conf.staff_list)
        or bool(keys & set(flag_map.get("is_staff", ())))
    )
    owned = set(flag_map) | ({"is_staff"} if "is_superuser" in flag_map else set())
    changed: list[str] = []
    for flag, granted in (("is_superuser", superuser), ("is_staff", staff)):
        current = bool(getattr(user, flag, False))
        wanted = granted if flag in owned else (current or granted)
        if wanted != current and hasattr(user, flag):
            setattr(user, flag, wanted)
            changed.append(flag)
    return changed


def entra_group_names(claims: MicrosoftClaims, conf: SSOSettings) -> set[str]:
    """The Django groups Entra grants this account: ``MICROSOFT_SSO_GROUP_MAP``'s values
    for every role and group it holds, and its app roles under ``MICROSOFT_SSO_MIRROR_ROLES``.
    """
    group_map = conf.group_map
    names = {name for key in _authorization_keys(claims) for name in group_map.get(key, ())}
    if conf.mirror_roles:
        names.update(role for role in claims.roles if role)
    return names


def needs_group_claims(conf: SSOSettings) -> bool:
    """Whether a map names a group object id, so overage must be resolved at Graph."""
    keys = [*conf.group_map, *(key for keys in conf.flag_map.values() for key in keys)]
    return any(is_object_id(key) for key in keys)


@dataclass(frozen=True)
class _GroupSync:
    """What making a user's Entra-granted memberships match Entra must change, as read in
    one statement by :func:`_plan_group_sync`. Group sets are of primary keys."""

    missing: frozenset[str]  # groups wanted that do not exist yet (to create, then gain)
    removed_by_hand: frozenset[int]  # recorded grants whose membership was removed since
    gained: frozenset[int]  # groups wanted (and existing) that the user does not hold
    lost: frozenset[int]  # recorded grants, still held, no longer wanted

    def changes_nothing(self) -> bool:
        return not (self.missing or self.removed_by_hand or self.gained or self.lost)


def _plan_group_sync(user: Any, wanted_names: set[str]) -> _GroupSync:
    """Read, in one statement, every group that is wanted by name or recorded as granted to
    ``user``, each with whether the user holds it and whether it is granted; and say what
    :func:`_sync_groups` must change. Other groups the user holds (given by hand) play no
    part, so they are not read."""
    memberships = user.groups  # the related manager: its through model and field names
    held = memberships.through._default_manager.filter(**{memberships.source_field_name: user.pk})
    granted = EntraGroupMembership.objects.filter(user_id=user.pk)
    rows = (
        Group.objects.filter(
            # An empty name__in matches nothing and drops out of the OR.
            Q(name__in=wanted_names) | Q(pk__in=granted.values("group_id"))
        )
        .annotate(
            # Whether the database matches the name as get_or_create(name=...) would.
            is_wanted=Q(name__in=wanted_names),
            is_held=Exists(held.filter(**{memberships.target_field_name: OuterRef("pk")})),
            is_granted=Exists(granted.filter(group_id=OuterRef("pk"))),
        )
        .order_by()
        .values_list("pk", "name", "is_wanted", "is_held", "is_granted")
    )
    wanted: set[int] = set()
    found: set[str] = set()
    held_pks: set[int] = set()
    granted_pks: set[int] = set()
    for pk, name, is_wanted, is_held, is_granted in rows:
        if is_wanted:
            wanted.add(pk)
            found.add(name)
        if is_held:
            held_pks.add(pk)
        if is_granted:
            granted_pks.add(pk)
    # A grant whose membership someone removed since is no grant any more: it is forgotten,
    # so that the same membership added again by hand later counts as given by hand.
    removed_by_hand = granted_pks - held_pks
    return _GroupSync(
        missing=frozenset(wanted_names - found),
        removed_by_hand=frozenset(removed_by_hand),
        gained=frozenset(wanted - held_pks),
        lost=frozenset(granted_pks - removed_by_hand - wanted),
    )


def _sync_groups(user: AbstractBaseUser, wanted_names: set[str]) -> None:
    """Make the Entra-granted memberships of ``user`` exactly ``wanted_names``.

    Adds the groups not yet held (created when first needed) and records them as granted;
    removes the recorded grants no longer wanted. A membership held without a record (given
    by hand) is left as it is, whether Entra grants it or not. Safe under concurrent sign-ins
    of one user: every insert ignores a row a racing transaction wrote first.

    A returning user whose groups are already as wanted costs one statement and no lock.
    """
    if not hasattr(user, "groups"):
        return  # a user model without PermissionsMixin has no groups (check sso.E013)
    plan = _plan_group_sync(user, wanted_names)
    if plan.changes_nothing():
        # Safe without the lock below. Sign-ins of the same account already run one after
        # the other (sign_in writes the identity first). Of a user with two accounts, a
        # sign-in through the other one may be running: this plan was read in one
        # statement, from one consistent snapshot, in which the memberships are already
        # what this sign-in grants, so the outcome is one a serial order gives, and a
        # sign-in that does change something takes the lock and applies its grant whole.
        return
    # Two sign-ins of one user at once must not interleave their reads and writes, or the
    # user could end with a mix neither granted: the user's row is locked until commit,
    # and everything is read again under the lock (the groups to create are those still
    # missing then: one deleted since the first read is created too).
    list(type(user)._default_manager.select_for_update().filter(pk=user.pk).values_list("pk"))
    plan = _plan_group_sync(user, wanted_names)
    if plan.missing:
        for name in plan.missing:
            Group.objects.get_or_create(name=name)
        plan = _plan_group_sync(user, wanted_names)
    if plan.removed_by_hand:
        EntraGroupMembership.objects.filter(
            user_id=user.pk, group_id__in=plan.removed_by_hand
        ).delete()
    if plan.gained:
        user.groups.add(*plan.gained)
        EntraGroupMembership.objects.bulk_create(
            [EntraGroupMembership(user_id=user.pk, group_id=pk) for pk in plan.gained],
            ignore_conflicts=True,
        )
    if plan.lost:
        user.groups.remove(*plan.lost)
        EntraGroupMembership.objects.filter(user_id=user.pk, group_id__in=plan.lost).delete()


def _identity_with_user(**unique_key: Any) -> MicrosoftIdentity | None:
    """The identity found by a unique key (its pk, or ``(tenant_id, object_id)``), with its
    user; None when there is none. ``get()``, not ``filter().first()``: a unique key needs
    no ``ORDER BY``."""
    try:
        return MicrosoftIdentity.objects.select_related("user").get(**unique_key)
    except MicrosoftIdentity.DoesNotExist:
        return None


def _bind_identity(
    claims: MicrosoftClaims, request: HttpRequest, conf: SSOSettings, email: str | None
) -> tuple[MicrosoftIdentity, bool]:
    """Find the identity for (tid, oid), or create it (and maybe its user).

    Runs inside the caller's transaction. When concurrent first sign-ins of one account
    race, the unique constraint lets one insert win; the others roll back their savepoint
    (including the user they created) and use the winner's identity.
    """
    lookup = {"tenant_id": claims.tenant_id, "object_id": claims.object_id}
    # Two attempts: the second sees whatever the racing winner committed (its identity,
    # or the username it took) and resolves accordingly.
    for attempt in range(2):
        identity = _identity_with_user(**lookup)
        if identity is not None:
            return identity, False
        try:
            with transaction.atomic():
                user = _existing_user_by_email(claims, conf, email)
                created = user is None
                if user is None:
                    if not conf.auto_create_users:
                        raise UserNotFound("no user is bound to this account")
                    user = _create_user(claims, request, conf, email)
                identity = MicrosoftIdentity.objects.create(user=cast(Any, user), **lookup)
                if created:
                    # Reported once the user really exists: a later refusal rolls it back.
                    transaction.on_commit(
                        functools.partial(
                            audit.emit,
                            audit.user_created,
                            "user_created",
                            user=user,
                            identity=identity,
                        )
                    )
                return identity, created
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def sign_in(
    claims: MicrosoftClaims,
    request: HttpRequest,
    conf: SSOSettings,
    *,
    single_tenant_app: bool,
    resolve_groups: Callable[[], tuple[str, ...]] | None = None,
) -> SignedInUser:
    """Apply every rule above and return the user, created or updated as needed.

    ``resolve_groups`` reads the groups from elsewhere (Microsoft Graph) when the token
    says they did not fit in it; it is called only for an account that passed rules 1 to
    4, and only when a map needs groups, so a refused account costs no such call.

    Raises a subclass of :class:`~sso_api.exceptions.SSOError` for each refusal; nothing is
    written when it does.
    """
    email = trusted_email(claims, single_tenant_app=single_tenant_app)
    check_allowed(claims, request, conf, email)
    if claims.groups_overage and resolve_groups is not None and needs_group_claims(conf):
        claims = claims.with_groups(resolve_groups())
    with transaction.atomic():
        identity, created = _bind_identity(claims, request, conf, email)
        user = identity.user
        # The identity's row is written first: the UPDATE locks it until commit, so two
        # sign-ins of one account at once go on from here one after the other, and the
        # second reads (the user, its groups) what the first committed. Without it, a
        # sign-in whose groups need no change would not wait, and could store its roles
        # over those of a concurrent one that changed the groups.
        identity.last_login_at = timezone.now()
        identity.roles = list(claims.roles)
        # What the account said its address was, and whether it was believed: for the
        # operators who look the account up, never for finding it (that is (tid, oid)).
        identity.email = (email or claims.email or "")[:254]
        identity.email_trusted = email is not None
        identity.save(update_fields=["last_login_at", "roles_json", "email", "email_trusted"])
        _apply_user_data(user, claims, conf, email, created)
        if not user.is_active:
            raise UserInactive()  # rolls back the identity's update too
        if conf.group_map or conf.mirror_roles:
            # Without a map nothing is granted, and nothing granted before is touched.
            _sync_groups(user, entra_group_names(claims, conf))
        if conf.pre_login_callback is not None:
            _run_hook(conf.pre_login_callback, user, claims, request)
    return SignedInUser(user=user, identity=identity, created=created)


def signed_in_identity(identity_id: object, user_id: object) -> MicrosoftIdentity:
    """The identity a hand-off code was issued for, with its user, if it may still sign in.

    Raises :class:`~sso_api.exceptions.UserInactive` when the identity or its user is gone,
    or the user was deactivated, since the callback.
    """
    identity = _identity_with_user(pk=str(identity_id), user_id=str(user_id))
    if identity is None or not identity.user.is_active:
        raise UserInactive("user gone or inactive since the callback")
    return identity


def last_identity(user: AbstractBaseUser) -> MicrosoftIdentity | None:
    """The identity ``user`` last signed in with, or None for a user who never did."""
    return (
        MicrosoftIdentity.objects.filter(user_id=user.pk).order_by("-last_login_at", "-pk").first()
    )


# The active user each account maps to, per worker, for MICROSOFT_SSO_API_USER_CACHE_SECONDS;
# tagged with the user's primary key so that saving or deleting the user drops it at once
# in this worker (sso_api.signals). Bounded: a few thousand user objects at most.
_users_of_accounts: LocalCache[AbstractBaseUser] = LocalCache(4096)


def user_for_access_token(
    claims: MicrosoftClaims, request: HttpRequest, conf: SSOSettings, *, single_tenant_app: bool
) -> AbstractBaseUser:
    """The user an Entra access token for this API speaks for, on every request.

    The tenant rule applies each time (one comparison); the account's user is found by
    ``(tid, oid)`` in one query, and then reused by this worker for
    ``MICROSOFT_SSO_API_USER_CACHE_SECONDS``: a deactivation made elsewhere is seen within
    that time, one saved or deleted in this worker at once. Each call gets its own copy of
    the user, so a view changing it changes nothing for other requests. On first sight the
    whole sign-in policy runs once, as for a browser sign-in, and may create the user
    (``MICROSOFT_SSO_AUTO_CREATE_USERS``). Raises :class:`TenantNotAllowed`,
    :class:`UserInactive` or any refusal of :func:`sign_in`.
    """
    if not tenant_allowed(claims.tenant_id, conf):
        raise TenantNotAllowed(f"tenant {claims.tenant_id} is not allowed")
    account = (claims.tenant_id, claims.object_id)
    cached = _users_of_accounts.get(account)
    if cached is not None:
        return copy.copy(cached)
    identity = _identity_with_user(tenant_id=claims.tenant_id, object_id=claims.object_id)
    if identity is None:
        return sign_in(claims, request, conf, single_tenant_app=single_tenant_app).user
    if not identity.user.is_active:
        raise UserInactive("the token's user is deactivated")
    _users_of_accounts.set(
        account,
        copy.copy(identity.user),
        seconds=conf.api_user_cache_seconds,
        group=identity.user.pk,
    )
    return identity.user


def forget_cached_user(user_pk: object) -> None:
    """Drop this worker's cached copies of the user ``user_pk`` (saved or deleted)."""
    _users_of_accounts.forget_group(user_pk)


def forget_cached_account(tenant_id: str, object_id: str) -> None:
    """Drop this worker's cached user of one account (its identity saved or deleted)."""
    _users_of_accounts.forget((tenant_id, object_id))


def forget_cached_users() -> None:
    """Drop every cached user of this worker (tests, between databases)."""
    _users_of_accounts.clear()
