"""Switches that make the fake identity platform misbehave on purpose.

Tests flip fields of the platform's :class:`Faults` object between requests; the next
request served reads them. Every field's default is the well-behaved platform, and
:meth:`Faults.reset` (or ``platform.reset_faults()``) returns to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

__all__ = ["Faults", "MalformedGraphAnswer", "OverageClaim", "SigningFault"]

#: How id_tokens are signed while the fault is set:
#:
#: - ``"valid"``: RS256 with the current published key (normal behaviour).
#: - ``"wrong_key"``: RS256 with a key that is not published, under the *published* kid,
#:   so only a real signature check catches it.
#: - ``"unknown_kid"``: RS256 with an unpublished key under a kid absent from the JWKS,
#:   so a validator refetches the keys and still finds nothing.
#: - ``"alg_none"``: an unsigned token (``alg: none``, empty signature).
#: - ``"hs256"``: HS256 keyed with the PEM of the published public key, the classic
#:   algorithm-confusion forgery against validators that trust the header's ``alg``.
#: - ``"hs256_client_secret"``: HS256 keyed with the app's client secret, which a
#:   validator might accept if it allows symmetric algorithms at all.
SigningFault = Literal[
    "valid", "wrong_key", "unknown_kid", "alg_none", "hs256", "hs256_client_secret"
]

#: How an id_token says that the user is in more groups than it can carry:
#:
#: - ``"claim_sources"``: ``_claim_names`` and ``_claim_sources`` naming Graph's
#:   ``getMemberObjects`` for the user (Entra's usual form).
#: - ``"hasgroups"``: ``hasgroups: true`` (what Entra sends where a token must stay
#:   short, the implicit flow for example).
OverageClaim = Literal["claim_sources", "hasgroups"]

#: How a faulted Graph answer is malformed:
#:
#: - ``"not_json"``: an HTML page, served as ``text/html``.
#: - ``"no_value"``: a JSON object without ``value``.
#: - ``"value_not_list"``: ``value`` is an object (the members keyed by id), not a list.
#: - ``"foreign_next_link"``: the genuine page, but its ``@odata.nextLink`` names another
#:   host (the fake itself under another of its names: ``localhost`` for ``127.0.0.1``
#:   and the other way round), so a client that follows it shows in the request log.
MalformedGraphAnswer = Literal["not_json", "no_value", "value_not_list", "foreign_next_link"]


@dataclass
class Faults:
    """The misbehaviour switches of one fake identity platform.

    id_token faults apply to id_tokens minted while they are set (tokens are minted at
    the token endpoint, so what counts is the state when the code is redeemed). Token
    endpoint faults are checked before the request is processed, so a faulted request
    never consumes the authorization code it carried and the client can retry with it.
    """

    #: Claims set on (or replacing claims of) issued id_tokens, e.g. ``{"aud": "other"}``.
    id_token_claims_override: dict[str, object] = field(default_factory=dict)
    #: Claims dropped from issued id_tokens, e.g. ``{"tid", "nonce"}``.
    id_token_claims_remove: set[str] = field(default_factory=set)
    #: How issued id_tokens are signed; see :data:`SigningFault`.
    id_token_signing: SigningFault = "valid"

    #: Answer token requests with this status and an Entra-shaped error body
    #: (or with :attr:`token_endpoint_body` when that is set).
    token_endpoint_status: int | None = None
    #: Seconds for the ``Retry-After`` header of faulted token responses (None: no header).
    token_endpoint_retry_after: int | None = None
    #: Seconds to wait before answering a token request (to exercise client timeouts).
    #: The request is processed normally afterwards, like a slow but working Entra.
    token_endpoint_delay: float = 0.0
    #: A raw, non-JSON body for token responses, served as ``text/html`` with
    #: :attr:`token_endpoint_status` or 200.
    token_endpoint_body: str | None = None
    #: How many token requests the token endpoint faults affect before they clear
    #: themselves (``None``: until reset). ``1`` fails exactly the next token request.
    token_endpoint_fault_count: int | None = None

    #: Answer the JWKS endpoint with this status (e.g. 500: "keys unreachable").
    keys_endpoint_status: int | None = None
    #: Answer the OpenID configuration endpoint with this status.
    metadata_status: int | None = None

    #: How id_tokens signal group overage; see :data:`OverageClaim`.
    overage_claim: OverageClaim = "claim_sources"

    #: Answer Microsoft Graph with this status and a Graph-shaped error body (429 and
    #: 503 as throttling and unavailability). Checked before the caller's token.
    graph_status: int | None = None
    #: Seconds for the ``Retry-After`` header of faulted Graph answers (None: no header).
    graph_retry_after: int | None = None
    #: Seconds to wait before answering Graph (to exercise client timeouts); the request
    #: is processed normally afterwards.
    graph_delay: float = 0.0
    #: Answer Graph with a malformed page (after checking the token), with
    #: :attr:`graph_status` or 200; see :data:`MalformedGraphAnswer`.
    graph_malformed: MalformedGraphAnswer | None = None
    #: Apply the Graph faults only to this page of a paged answer (1 is the first, the
    #: request without ``$skiptoken``); None: to every Graph request.
    graph_fault_page: int | None = None

    #: Show a consent page after the user is chosen, for every app.
    require_consent: bool = False

    #: Seconds added to the platform's clock: shifts ``iat``/``nbf``/``exp`` of issued
    #: tokens and ages authorization codes (601 makes pending codes expire).
    clock_skew: float = 0.0

    def reset(self) -> None:
        """Return every switch to its well-behaved default, in place.

        In place, so references to this object (a test's ``faults = platform.faults``)
        keep steering the platform.
        """
        defaults = Faults()
        for switch in fields(self):
            setattr(self, switch.name, getattr(defaults, switch.name))

    def token_endpoint_faulted(self) -> bool:
        """Whether any token endpoint switch is set."""
        return (
            self.token_endpoint_status is not None
            or self.token_endpoint_body is not None
            or self.token_endpoint_delay > 0
        )

    def graph_faulted(self, page: int) -> bool:
        """Whether any Graph switch applies to page ``page`` (1-based) of an answer."""
        targeted = self.graph_fault_page is None or self.graph_fault_page == page
        return targeted and (
            self.graph_status is not None
            or self.graph_malformed is not None
            or self.graph_delay > 0
        )

    def clear_token_endpoint_faults(self) -> None:
        """Turn the token endpoint switches off, leaving every other switch alone."""
        self.token_endpoint_status = None
        self.token_endpoint_retry_after = None
        self.token_endpoint_delay = 0.0
        self.token_endpoint_body = None
        self.token_endpoint_fault_count = None
