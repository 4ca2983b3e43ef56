"""What this app stores: who a Microsoft account is here, and live refresh sessions."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class MicrosoftIdentity(models.Model):
    """A Microsoft account, bound to one Django user.

    The binding key is ``(tenant_id, object_id)``: the only pair of claims Microsoft
    guarantees to be immutable and unique for an account. UPN and email can be changed by
    whoever administers a tenant, so they never identify anyone here.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="microsoft_identities",
    )
    tenant_id = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    # The email claim of the last sign-in, for operators to find the account; whether this
    # app trusted it (see sso_api.policy.trusted_email). Never used to identify anyone.
    email = models.CharField(max_length=254, blank=True, default="")
    email_trusted = models.BooleanField(default=False)
    # The app roles the account held at its last sign-in (the ``roles`` claim), as a JSON
    # list; see :attr:`roles`. A text column rather than a JSONField: Django's check of a
    # JSONField on SQLite opens a database connection, which `manage.py check` should not
    # need.
    roles_json = models.TextField(default="[]", blank=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=["tenant_id", "object_id"], name="sso_api_identity_tenant_object"
            ),
        )
        verbose_name = "Microsoft identity"
        verbose_name_plural = "Microsoft identities"

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.object_id}"

    @property
    def roles(self) -> list[str]:
        """The app roles of the last sign-in; our access tokens carry them."""
        try:
            roles = json.loads(self.roles_json or "[]")
        except ValueError:
            return []
        return [str(role) for role in roles] if isinstance(roles, list) else []

    @roles.setter
    def roles(self, roles: list[str]) -> None:
        self.roles_json = json.dumps(list(roles))


class RevocationReason(models.TextChoices):
    """Why a session ended, which also says who ended it."""

    LOGOUT = "logout", "Signed out"
    USER = "user", "Ended by the user from their list of sessions"
    ADMIN = "admin", "Ended by an administrator"
    REUSE = "reuse", "A rotated refresh token was presented again"
    FRONT_CHANNEL = "front_channel", "Signed out at Microsoft (front-channel logout)"
    USER_INACTIVE = "user_inactive", "The user was deactivated"
    USER_DELETED = "user_deleted", "The user was deleted"
    IDENTITY_DELETED = "identity_deleted", "The Microsoft identity was deleted (unbound)"


class SignInMethod(models.TextChoices):
    """How a session began."""

    BROWSER = "browser", "Browser sign-in"
    EXCHANGE = "exchange", "Entra access token exchanged"


# The longest user agent kept for a session: enough to tell devices apart.
USER_AGENT_MAX_LENGTH = 256


class RefreshSession(models.Model):
    """One sign-in's family of refresh tokens.

    Each rotation replaces ``current_jti``; only the refresh token carrying it is valid.
    Presenting any older token of the family means it was copied, so the whole family is
    revoked. ``expires_at`` is fixed at sign-in: rotation never extends it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_sessions"
    )
    identity = models.ForeignKey(
        MicrosoftIdentity, on_delete=models.CASCADE, related_name="sessions"
    )
    # Microsoft's session id (the id_token's ``sid``), for front-channel logout.
    microsoft_session_id = models.CharField(max_length=128, blank=True, db_index=True)
    current_jti = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, choices=RevocationReason.choices, blank=True)
    # The delegated scopes the family's access tokens carry (``scp``, space-separated): this
    # API's scope for a browser sign-in, the Entra token's scopes for an exchange.
    scopes = models.CharField(max_length=1024, blank=True, default="")
    method = models.CharField(
        max_length=16, choices=SignInMethod.choices, default=SignInMethod.BROWSER
    )
    # The User-Agent of the request that began the session, cut to USER_AGENT_MAX_LENGTH.
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True, default="")

    class Meta:
        verbose_name = "sign-in session"
        indexes = (
            # A user's live sessions (the list, ending all), and the purge of old rows.
            models.Index(fields=["user", "revoked_at"], name="sso_api_session_user_live"),
            models.Index(fields=["expires_at"], name="sso_api_session_expires"),
            models.Index(fields=["revoked_at"], name="sso_api_session_revoked"),
        )

    def __str__(self) -> str:
        return str(self.id)

    @property
    def status(self) -> str:
        """``"revoked"``, ``"expired"`` or ``"active"``, as of now."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


class EntraGroupMembership(models.Model):
    """A Django group membership that Entra granted, as opposed to one given by hand.

    At each sign-in the user gains the groups Entra now grants and loses the ones recorded
    here that it no longer grants. A membership without a row here was given by someone
    else (an administrator, a data migration) and is never touched.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entra_group_grants"
    )
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="entra_grants")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["user", "group"], name="sso_api_entra_grant_unique"),
        )
        verbose_name = "group membership granted by Entra"

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"
