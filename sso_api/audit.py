"""Audit events: Django signals, and one structured log line per event.

Connect to the signals to feed your own audit trail; or read the ``sso_api.audit`` logger,
whose records carry the event's fields both in the message (``key=value``) and as
``record.sso_event`` (a dict) for structured handlers. No event ever carries a token, a
code, a secret or a library's exception text.

Some values are chosen by whoever sends the request (Microsoft's ``error`` parameter
reaches ``reason``). In the message every value that is not a plain token of letters,
digits and ``_.:/@+-`` is written as a JSON string, so no value can add a key, a space or a
line of its own: ``reason="error \"x event=forged\""`` stays one value.

==========================  ==================================================================
signal                      keyword arguments
==========================  ==================================================================
``sign_in_succeeded``       ``user``, ``identity``, ``created`` (bool), ``tenant_id``,
                            ``request``
``sign_in_refused``         ``code`` (the stable error code), ``reason`` (for people),
                            ``causes`` (class names of chained exceptions), ``request``
``user_created``            ``user``, ``identity``
``token_refreshed``         ``session`` (a :class:`~sso_api.models.RefreshSession`)
``session_revoked``         ``session_id``, ``user_id``, ``reason`` (a
                            :class:`~sso_api.models.RevocationReason`: ``logout``,
                            ``user``, ``admin``, ``user_inactive``, ``user_deleted``,
                            ``identity_deleted``, ``front_channel``), ``actor_id`` (the
                            user who ended it, when a person did; else None)
``refresh_reuse_detected``  ``session_id``, ``user_id``: a rotated refresh token came back,
                            and its whole family was revoked
==========================  ==================================================================
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger("sso_api.audit")

# What may stand in a key=value line unquoted.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.:/@+-]+")

sign_in_succeeded = Signal()
sign_in_refused = Signal()
user_created = Signal()
token_refreshed = Signal()
session_revoked = Signal()
refresh_reuse_detected = Signal()


def emit(signal: Signal, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Send ``signal`` with ``fields`` and log ``event`` with the loggable ones.

    Model instances and the request are passed to receivers but logged by primary key
    (``user`` -> ``user_id``) or not at all.
    """
    signal.send(sender=event, **fields)
    loggable: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "request" or value is None:
            continue
        if hasattr(value, "pk"):
            loggable[f"{name}_id"] = value.pk
        else:
            loggable[name] = value
    text = " ".join(f"{name}={_log_value(value)}" for name, value in loggable.items())
    logger.log(level, "event=%s %s", event, text, extra={"sso_event": {"event": event, **loggable}})


def _log_value(value: Any) -> str:
    """``value`` as one token of a ``key=value`` line (see the module docstring)."""
    if isinstance(value, (list, tuple)):
        return json.dumps([str(item) for item in value], separators=(",", ":"))
    text = str(value)
    return text if _PLAIN_VALUE.fullmatch(text) else json.dumps(text)
