"""What Microsoft says about who signed in, as this project reads it.

:class:`MicrosoftClaims` is built from an id_token whose signature and required claims were
already verified (``sso_api.entra``), and is what the sign-in policy, the hooks and the
audit events receive. It lives below both so that policy never imports Microsoft's wire
handling, and Entra validation never imports policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class MicrosoftClaims:
    """What a validated id_token says about who signed in.

    ``email`` is whatever the token carried and is *not* proof of ownership; see
    :attr:`email_verified` and ``sso_api.policy.trusted_email``.
    """

    tenant_id: str
    object_id: str
    subject: str
    issuer: str
    session_id: str | None
    email: str | None
    email_verified: bool | None
    preferred_username: str | None
    name: str
    given_name: str
    family_name: str
    is_guest: bool
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    #: Entra left ``groups`` out because they did not fit ("group overage"): the token
    #: points at Microsoft Graph instead (``_claim_names``/``_claim_sources``, or
    #: ``hasgroups``). ``groups`` is then empty until resolved there.
    groups_overage: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_validated(cls, claims: dict[str, Any]) -> MicrosoftClaims:
        """Build from claims whose signature and required fields were already checked."""
        email = claims.get("email")
        edov = claims.get("xms_edov")
        return cls(
            tenant_id=str(claims["tid"]).lower(),
            object_id=str(claims["oid"]).lower(),
            subject=str(claims["sub"]),
            issuer=str(claims["iss"]),
            session_id=str(claims["sid"]) if claims.get("sid") else None,
            email=str(email).strip() if email else None,
            # xms_edov arrives as a JSON boolean, or as "1"/"true" in some token versions.
            email_verified=None if edov is None else str(edov).lower() in ("true", "1"),
            preferred_username=(
                str(claims["preferred_username"]) if claims.get("preferred_username") else None
            ),
            name=str(claims.get("name") or ""),
            given_name=str(claims.get("given_name") or ""),
            family_name=str(claims.get("family_name") or ""),
            is_guest=_is_guest(claims),
            roles=tuple(str(role) for role in claims.get("roles") or ()),
            groups=tuple(str(group) for group in claims.get("groups") or ()),
            groups_overage=_groups_overage(claims),
            raw=dict(claims),
        )

    @classmethod
    def from_access_token(cls, claims: dict[str, Any]) -> MicrosoftClaims:
        """Build from a validated Entra access token for this API, v1.0 or v2.0.

        v1.0 tokens name the account in ``upn`` or ``unique_name`` where v2.0 tokens use
        ``preferred_username``; an access token has no ``sid``.
        """
        username = (
            claims.get("preferred_username") or claims.get("upn") or claims.get("unique_name")
        )
        return cls.from_validated(
            {**claims, "preferred_username": username, "sid": None, "sub": claims.get("sub", "")}
        )

    def with_groups(self, groups: tuple[str, ...]) -> MicrosoftClaims:
        """The same claims with the groups resolved elsewhere (Microsoft Graph)."""
        return replace(self, groups=groups, groups_overage=False)


def _groups_overage(claims: dict[str, Any]) -> bool:
    """Whether the token says the user's groups did not fit in it.

    See https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
    (``_claim_names``, ``_claim_sources``) and the ``hasgroups`` claim of the implicit flow.
    """
    claim_names = claims.get("_claim_names")
    if isinstance(claim_names, dict) and "groups" in claim_names:
        return True
    return claims.get("hasgroups") in (True, "true", "True")


def _is_guest(claims: dict[str, Any]) -> bool:
    """Whether the account is a guest (B2B) in the tenant that issued the token.

    The optional ``acct`` claim says so directly (1 = guest). Without it, a guest shows an
    ``idp`` claim naming its home issuer, which a member's token does not carry.
    """
    acct = claims.get("acct")
    if acct is not None:
        return str(acct) == "1"
    idp = claims.get("idp")
    if not idp:
        return False
    return str(claims["tid"]).lower() not in str(idp).lower()
