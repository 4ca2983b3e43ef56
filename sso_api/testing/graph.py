"""The fake's Microsoft Graph: the documents of the calls an app makes on group overage.

The platform serves them under ``{base_url}/graph`` (over HTTPS only), authenticates the
caller and picks the user; this module shapes what goes over the wire:

- ``GET /v1.0/me/transitiveMemberOf`` (``$select``, ``$top``, ``$skiptoken``): the
  user's groups, direct and nested, and directory roles, one page at a time, with an
  absolute ``@odata.nextLink`` while more remain
  (https://learn.microsoft.com/graph/api/user-list-transitivememberof,
  https://learn.microsoft.com/graph/paging);
- ``POST /v1.0/users/{id}/getMemberObjects``: the endpoint an overage id_token names in
  ``_claim_sources``, every membership id in one answer
  (https://learn.microsoft.com/graph/api/directoryobject-getmemberobjects);
- Graph's error body, ``{"error": {"code", "message", "innerError"}}``
  (https://learn.microsoft.com/graph/errors), and the malformed answers of
  :data:`~sso_api.testing.faults.MalformedGraphAnswer`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from .faults import MalformedGraphAnswer
from .protocol import Trace, echo
from .signing import b64url_decode, b64url_encode

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DIRECTORY_ROLE_TYPE",
    "GROUP_TYPE",
    "MAX_PAGE_SIZE",
    "DirectoryObject",
    "GraphError",
    "QueryOptions",
    "SkipPosition",
    "SkipTokens",
    "bad_request",
    "directory_role_id",
    "error_document",
    "fault_error",
    "malformed_answer",
    "member_objects_document",
    "next_link",
    "on_another_host",
    "page_document",
    "query_options",
]

#: Members per page when the client sends no ``$top`` (Graph's default for this call).
DEFAULT_PAGE_SIZE = 100
#: The largest ``$top`` Graph accepts for directory objects.
MAX_PAGE_SIZE = 999
GROUP_TYPE = "#microsoft.graph.group"
DIRECTORY_ROLE_TYPE = "#microsoft.graph.directoryRole"

# Properties $select may name, as Graph spells them; matched case-insensitively.
_SELECTABLE = {"id": "id", "displayname": "displayName"}
# System query options the fake serves; any other "$..." option is refused rather than
# ignored, so a test never passes on a filter the fake did not apply.
_QUERY_OPTIONS = frozenset({"$select", "$top", "$skiptoken"})
_ERROR_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Authorization_RequestDenied",
    404: "Request_ResourceNotFound",
    405: "Request_BadRequest",
    429: "TooManyRequests",
    503: "serviceNotAvailable",
    504: "gatewayTimeout",
}
_ROLE_NAMESPACE = uuid.UUID("0f6a3d55-8a9b-4c55-a1f1-3c1cf6d1b7e2")


class GraphError(Exception):
    """A Graph refusal: HTTP ``status``, Graph's error ``code``, a message, extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


def bad_request(message: str) -> GraphError:
    """400 ``BadRequest``, Graph's answer to a query it cannot serve."""
    return GraphError(400, "BadRequest", message)


def fault_error(status: int) -> GraphError:
    """The error a Graph status fault answers with, coded as Graph codes that status."""
    code = _ERROR_CODES.get(status, "generalException")
    return GraphError(status, code, "The fake Microsoft Graph was told to fail this request.")


def error_document(error: GraphError, trace: Trace) -> dict[str, object]:
    """Graph's JSON error body for ``error``."""
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": trace.timestamp.replace(" ", "T"),
                "request-id": trace.trace_id,
                "client-request-id": trace.correlation_id,
            },
        }
    }


def directory_role_id(tenant_id: str, name: str) -> str:
    """The object id of directory role ``name`` in a tenant: stable across runs."""
    return str(uuid.uuid5(_ROLE_NAMESPACE, f"{tenant_id.lower()}|{name}"))


@dataclass(frozen=True)
class DirectoryObject:
    """One member of a membership list: a group or a directory role."""

    odata_type: str
    object_id: str
    display_name: str | None

    def properties(self, select: tuple[str, ...] | None) -> dict[str, object]:
        """The member as Graph lists it: ``@odata.type`` and the selected properties."""
        available = {"id": self.object_id, "displayName": self.display_name}
        chosen = select if select is not None else tuple(available)
        return {"@odata.type": self.odata_type, **{name: available[name] for name in chosen}}


@dataclass(frozen=True)
class QueryOptions:
    """The system query options of a ``transitiveMemberOf`` request.

    ``select`` holds property names as Graph spells them (None: every property);
    ``top`` is the requested page size (None: the default).
    """

    select: tuple[str, ...] | None = None
    top: int | None = None
    skiptoken: str | None = field(default=None, repr=False)

    def page_size(self, cap: int | None) -> int:
        """Members on one page: ``$top`` or the default, at most ``cap`` when given.

        Never less than one, so paging always moves on.
        """
        size = self.top if self.top is not None else DEFAULT_PAGE_SIZE
        return max(1, min(size, cap) if cap is not None else size)


def query_options(query: str) -> QueryOptions:
    """Parse the raw query string; raises :class:`GraphError` (400) for what Graph refuses.

    Refused: undecodable or repeated options, ``$top`` outside 1 to 999, ``$select`` of
    an unknown property, and system options the fake does not implement.
    """
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=20)
    except ValueError as exc:
        raise bad_request("The query cannot be decoded.") from exc
    found: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if not key.startswith("$"):
            continue
        if key not in _QUERY_OPTIONS:
            raise bad_request(f"The fake Microsoft Graph does not support '{echo(name)}'.")
        if key in found:
            raise bad_request(f"Query option '{echo(name)}' was specified more than once.")
        found[key] = value
    select = None
    if "$select" in found:
        names = [part.strip() for part in found["$select"].split(",")]
        unknown = [name for name in names if name.lower() not in _SELECTABLE]
        if unknown:
            raise bad_request(f"Could not find a property named '{echo(unknown[0])}'.")
        select = tuple(dict.fromkeys(_SELECTABLE[name.lower()] for name in names))
    top = None
    if "$top" in found:
        raw = found["$top"]
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
            raise bad_request(
                f"Invalid page size specified: '{echo(raw)}'. "
                f"Must be between 1 and {MAX_PAGE_SIZE} inclusive."
            )
        top = int(raw)
    return QueryOptions(select=select, top=top, skiptoken=found.get("$skiptoken") or None)


@dataclass(frozen=True)
class SkipPosition:
    """Where a ``$skiptoken`` resumes: whose list, from which member, which page (1-based)."""

    object_id: str
    offset: int
    page: int


class SkipTokens:
    """Opaque ``$skiptoken`` values: a position under an HMAC only this platform knows.

    A client can only send back what the fake gave it; anything else is a 400.
    """

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def issue(self, position: SkipPosition) -> str:
        """The token that resumes at ``position``."""
        document = [position.object_id, position.offset, position.page]
        payload = b64url_encode(json.dumps(document).encode())
        return f"{payload}.{self._mac(payload)}"

    def read(self, token: str) -> SkipPosition:
        """The position ``token`` stands for; raises :class:`GraphError` (400) if forged."""
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(self._mac(payload).encode(), mac.encode()):
            raise bad_request("The $skiptoken is not valid.")
        object_id, offset, page = json.loads(b64url_decode(payload))
        return SkipPosition(object_id=object_id, offset=offset, page=page)

    def _mac(self, payload: str) -> str:
        return b64url_encode(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def page_document(
    graph_url: str,
    members: Sequence[DirectoryObject],
    select: tuple[str, ...] | None,
    next_link: str | None,
) -> dict[str, object]:
    """One page of a membership list, with ``@odata.nextLink`` when given."""
    context = f"directoryObjects({','.join(select)})" if select is not None else "directoryObjects"
    document: dict[str, object] = {
        "@odata.context": f"{graph_url}/v1.0/$metadata#{context}",
        "value": [member.properties(select) for member in members],
    }
    if next_link is not None:
        document["@odata.nextLink"] = next_link
    return document


def next_link(resource_url: str, options: QueryOptions, skiptoken: str) -> str:
    """The absolute URL of the next page: the same options, a new ``$skiptoken``.

    ``$`` stays literal, as in Graph's own links.
    """
    parts = []
    if options.select is not None:
        parts.append(f"$select={','.join(options.select)}")
    if options.top is not None:
        parts.append(f"$top={options.top}")
    parts.append(f"$skiptoken={quote(skiptoken, safe='')}")
    return f"{resource_url}?{'&'.join(parts)}"


def member_objects_document(graph_url: str, object_ids: Sequence[str]) -> dict[str, object]:
    """The answer of ``getMemberObjects``: the ids alone."""
    return {
        "@odata.context": f"{graph_url}/v1.0/$metadata#Collection(Edm.String)",
        "value": list(object_ids),
    }


def on_another_host(url: str) -> str:
    """``url`` on another of the fake's names: ``localhost`` for an IP, else ``127.0.0.1``.

    The fake's certificate covers both, so a client that follows such a link really
    reaches the fake, and the request log shows that it did.
    """
    parts = urlsplit(url)
    other = "127.0.0.1" if parts.hostname == "localhost" else "localhost"
    netloc = f"{other}:{parts.port}" if parts.port is not None else other
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def malformed_answer(
    kind: MalformedGraphAnswer, document: dict[str, object], request_url: str
) -> tuple[bytes, str]:
    """(body, content type) of ``document`` malformed as ``kind`` says.

    ``request_url`` is what a foreign next link points at when the page has none of its
    own, moved to another host.
    """
    if kind == "not_json":
        return b"<html><body><h1>Service Unavailable</h1></body></html>", "text/html"
    mangled = dict(document)
    if kind == "no_value":
        del mangled["value"]
    elif kind == "value_not_list":
        members = document["value"]
        mangled["value"] = {
            str(member.get("id") if isinstance(member, dict) else member): member
            for member in (members if isinstance(members, list) else [])
        }
    else:
        genuine = document.get("@odata.nextLink")
        mangled["@odata.nextLink"] = on_another_host(
            genuine if isinstance(genuine, str) else request_url
        )
    return json.dumps(mangled).encode(), "application/json; charset=utf-8"
