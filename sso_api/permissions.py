"""DRF permissions for Entra app roles and delegated scopes, decided from the token alone.

::

    from sso_api.authentication import AccessTokenAuthentication
    from sso_api.permissions import HasAppRole

    class ReportsView(APIView):
        authentication_classes = [AccessTokenAuthentication]
        permission_classes = [HasAppRole]
        required_app_roles = ["Reports.Read"]

Our access tokens carry the app roles of the sign-in in their ``roles`` claim (also after
a refresh), so the decision needs no query. A view that names several roles requires all
of them; ``HasAppRole.any_of("Admin", "Editor")`` builds a permission satisfied by one.

:class:`HasScope` works the same way with ``required_scopes`` and the token's ``scp``:
an Entra access token's delegated scopes, or, for our own tokens, the scopes of their
session (this API's scope after a browser sign-in, the Entra token's after an exchange).

A request with no valid access token is answered 401 by the authentication, as usual. One
whose token lacks a role gets ``403`` with ``{"detail": ..., "code": "app_role_required"}``
(``scope_required`` for a scope).
A token minted elsewhere in the project carries no roles and is refused. Roles change at
the user's next sign-in: revoke their sessions to force one.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from sso_api.entra.access_token import EntraAccessToken
from sso_api.exceptions import AppRoleRequired, ScopeRequired, SSOError
from sso_api.tokens import roles_from_claims, scopes_from_claims


class _TokenGrantPermission(BasePermission):
    """What :class:`HasAppRole` and :class:`HasScope` share: a set of grants the token
    holds, the ones the view requires (all) or the class names (any), one refusal."""

    #: The view attribute that lists what is required (all of it).
    view_attribute: ClassVar[str]
    refusal: ClassVar[type[SSOError]]
    #: Set by :meth:`any_of`: grants of which one suffices, whatever the view says.
    any_of_grants: ClassVar[frozenset[str] | None] = None

    @classmethod
    def any_of(cls, *grants: str) -> type[Self]:
        """A permission class satisfied by any one of ``grants``."""
        if not grants:
            raise ImproperlyConfigured(f"{cls.__name__}.any_of() needs at least one value")
        return type(f"{cls.__name__}AnyOf", (cls,), {"any_of_grants": frozenset(grants)})

    def held(self, auth: Any) -> set[str]:
        """What the validated token (``request.auth``) holds."""
        raise NotImplementedError

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            return False  # DRF answers 401 when an authenticator could have been used
        held = self.held(request.auth)
        if self.any_of_grants is not None:
            allowed = bool(held & self.any_of_grants)
        else:
            allowed = set(self._required(view)) <= held
        if not allowed:
            raise PermissionDenied(
                {"detail": self.refusal.default_detail, "code": self.refusal.code}
            )
        return True

    def _required(self, view: Any) -> list[str]:
        required = getattr(view, self.view_attribute, None)
        if not required or isinstance(required, str):
            # A missing list would allow everyone; a bare string would be read letter by
            # letter.
            raise ImproperlyConfigured(
                f"{type(view).__name__} uses {type(self).__name__} without a list of "
                f"{self.view_attribute}"
            )
        return [str(value) for value in required]


class HasAppRole(_TokenGrantPermission):
    """Allows requests whose access token holds the app roles the view requires.

    The roles come from the view's ``required_app_roles`` (all of them needed) or, for a
    class made by :meth:`any_of`, from that call (one of them needed).
    """

    view_attribute = "required_app_roles"
    refusal = AppRoleRequired

    def held(self, auth: Any) -> set[str]:
        if isinstance(auth, EntraAccessToken):
            return set(auth.roles)  # signed by Microsoft for this API
        return set(roles_from_claims(getattr(auth, "payload", None)))


class HasScope(_TokenGrantPermission):
    """Allows requests whose access token holds the delegated scopes the view requires
    (``required_scopes``, all of them; or one of :meth:`any_of`'s)."""

    view_attribute = "required_scopes"
    refusal = ScopeRequired

    def held(self, auth: Any) -> set[str]:
        if isinstance(auth, EntraAccessToken):
            return set(auth.scopes)
        return set(scopes_from_claims(getattr(auth, "payload", None)))
