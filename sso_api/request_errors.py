"""Reading request bodies and query strings without ever failing with a 500.

Django and Django REST framework refuse some requests with exceptions that are not
``APIException``: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``RequestDataTooBig``), more
fields than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` (``TooManyFieldsSent``), and JSON nested
deeper than Python's recursion limit (``RecursionError`` from the ``json`` module, about a
thousand ``[``, which DRF's JSON parser lets through). Left alone, Django turns the first
two into an HTML 400 page and the last into a 500. :func:`request_error` translates each
into one of our errors, so the views can answer with the usual ``{"detail", "code"}`` body
(or, at the callback, a redirect). Size limits stay Django's: DRF reads a JSON or form body
through ``request.body``, which enforces them.
"""

from __future__ import annotations

import logging

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import UnreadablePostError
from rest_framework import exceptions as drf_exceptions

from sso_api.exceptions import (
    InvalidRequest,
    MalformedBody,
    MethodNotAllowed,
    RequestTooLarge,
    SSOError,
    TooManyFields,
    UnsupportedMediaType,
)

logger = logging.getLogger("sso_api")


def request_error(exc: BaseException) -> SSOError | None:
    """Our error for a request that Django or DRF refused, or None for anything else.

    Every translation uses a fixed text: none of them repeats what the client sent (DRF's
    own messages quote the content type, the method and the JSON decoder's complaint).
    """
    if isinstance(exc, SSOError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge("body over DATA_UPLOAD_MAX_MEMORY_SIZE")
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return TooManyFields("more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS")
    if isinstance(exc, RecursionError):
        # Parsing is where deep nesting comes from; should it ever come from elsewhere (a
        # hook, say), the log still shows where.
        logger.warning("request refused: RecursionError (input nested too deep)")
        return MalformedBody("input nested too deep")
    if isinstance(exc, drf_exceptions.ParseError):
        return MalformedBody("body could not be parsed")
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return UnsupportedMediaType("unsupported content type")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return MethodNotAllowed("method not allowed")
    if isinstance(exc, (SuspiciousOperation, BadRequest, UnreadablePostError)):
        # A malformed multipart boundary, an unreadable body, a disallowed host seen by a
        # view: the request cannot be served, and nothing about it is worth echoing.
        return InvalidRequest(f"request refused by Django: {type(exc).__name__}")
    return None
