"""Group memberships from Microsoft Graph, asked for only on group overage.

When a user is in more groups than fit in a token (200 for JWTs), Entra leaves the
``groups`` claim out of the id_token and says so (``_claim_names``/``_claim_sources`` or
``hasgroups``). The memberships are then read here, once per such sign-in, with the
access token of the same token response:

    GET {graph}/v1.0/me/transitiveMemberOf?$select=id&$top=999

(direct and nested memberships of the signed-in user; delegated permission ``User.Read``
is enough for the ids). Every page is followed through ``@odata.nextLink``; members that
are not groups (directory roles, administrative units) are skipped.

What this module guarantees:

* **All or nothing.** Any failure (network, timeout, a status other than 200, a body that
  is not a page, a next link to another origin, too many pages) raises
  :class:`GroupsUnavailable`; no partial list is ever returned, so a sign-in never syncs
  on half the groups.
* **The token goes to Graph only.** A next link is followed only on the origin of
  ``MICROSOFT_SSO_GRAPH_URL``; anything else is refused without a request.
* **Nothing secret is logged**: not the token, not Graph's error text.

See https://learn.microsoft.com/graph/api/user-list-transitivememberof
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests

from sso_api.entra.http import IdentityPlatformSession
from sso_api.exceptions import GroupsUnavailable

# 999 members a page (Graph's maximum) and at most this many pages: far beyond any real
# directory, and a bound on what a misbehaving server can make us do.
PAGE_SIZE = 999
MAX_PAGES = 200
GROUP_TYPE = "#microsoft.graph.group"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def transitive_group_ids(
    session: IdentityPlatformSession, graph_url: str, access_token: str
) -> tuple[str, ...]:
    """The object ids (lower-cased) of every group the token's user is a member of.

    Raises :class:`GroupsUnavailable` for every failure described in the module docstring.
    """
    url = f"{graph_url}/v1.0/me/transitiveMemberOf?$select=id&$top={PAGE_SIZE}"
    allowed_origin = _origin(graph_url)
    groups: dict[str, None] = {}
    for _page in range(MAX_PAGES):
        page = _get_page(session, url, access_token)
        for member in page["value"]:
            if not isinstance(member, dict) or not isinstance(member.get("id"), str):
                raise GroupsUnavailable("Graph page member without an id")
            if member.get("@odata.type") == GROUP_TYPE:
                groups[member["id"].lower()] = None
        next_link = page.get("@odata.nextLink")
        if next_link is not None and (
            not isinstance(next_link, str) or _origin(next_link) != allowed_origin
        ):
            raise GroupsUnavailable("Graph next link leaves the Graph origin")
        if next_link is None:
            return tuple(groups)
        url = next_link
    raise GroupsUnavailable(f"Graph paging did not end within {MAX_PAGES} pages")


def _get_page(session: IdentityPlatformSession, url: str, access_token: str) -> dict[str, Any]:
    try:
        # No redirects: the token, and what is parsed, stay on the origin checked above.
        response = session.get(
            url, headers={"Authorization": f"Bearer {access_token}"}, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise GroupsUnavailable("Graph unreachable or too slow") from exc
    if response.status_code != 200:
        raise GroupsUnavailable(f"Graph answered HTTP {response.status_code}")
    try:
        page = json.loads(response.text)
    except ValueError as exc:
        raise GroupsUnavailable("Graph did not answer JSON") from exc
    if not isinstance(page, dict) or not isinstance(page.get("value"), list):
        raise GroupsUnavailable("Graph answered something that is not a page")
    return page
