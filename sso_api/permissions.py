"""A DRF permission for Entra app roles, decided from the access token alone.

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

A request with no valid access token is answered 401 by the authentication, as usual. One
whose token lacks a role gets ``403`` with ``{"detail": ..., "code": "app_role_required"}``.
A token minted elsewhere in the project carries no roles and is refused. Roles change at
the user's next sign-in: revoke their sessions to force one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from sso_api.entra.access_token import EntraAccessToken
from sso_api.exceptions import AppRoleRequired
from sso_api.tokens import roles_from_claims


class HasAppRole(BasePermission):
    """Allows requests whose access token holds the app roles the view requires.

    The roles come from the view's ``required_app_roles`` (all of them needed) or, for a
    class made by :meth:`any_of`, from that call (one of them needed).
    """

    #: Set by :meth:`any_of`: roles of which one suffices, whatever the view says.
    any_of_roles: ClassVar[frozenset[str] | None] = None

    @classmethod
    def any_of(cls, *roles: str) -> type[HasAppRole]:
        """A permission class satisfied by any one of ``roles``."""
        if not roles:
            raise ImproperlyConfigured("HasAppRole.any_of() needs at least one role")
        return type("HasAnyAppRole", (cls,), {"any_of_roles": frozenset(roles)})

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            return False  # DRF answers 401 when an authenticator could have been used
        if isinstance(request.auth, EntraAccessToken):
            held = set(request.auth.roles)  # signed by Microsoft for this API
        else:
            held = set(roles_from_claims(getattr(request.auth, "payload", None)))
        if self.any_of_roles is not None:
            allowed = bool(held & self.any_of_roles)
        else:
            allowed = set(_required_roles(view)) <= held
        if not allowed:
            raise PermissionDenied(
                {"detail": AppRoleRequired.default_detail, "code": AppRoleRequired.code}
            )
        return True


def _required_roles(view: Any) -> Iterable[str]:
    required = getattr(view, "required_app_roles", None)
    if not required or isinstance(required, str):
        # A missing list would allow everyone; a bare string would be read letter by letter.
        raise ImproperlyConfigured(
            f"{type(view).__name__} uses HasAppRole without a list of required_app_roles"
        )
    return [str(role) for role in required]
