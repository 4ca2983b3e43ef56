"""What this app does when users and identities change, however they change.

Connected in :meth:`sso_api.apps.SSOApiConfig.ready`. Receivers run for saves and deletes
through the ORM (the admin, management commands, a project's own code):

* a user saved with ``is_active = False`` has every live session ended at once, and one
  deleted has them ended (and audited) just before the rows go with the user;
* a user or an identity saved or deleted leaves Entra bearer authentication's per-worker
  cache of users in this worker.

A bulk ``QuerySet.update()`` sends no signal. For that case the refresh endpoint checks
``is_active`` itself (and ends the session), and the per-worker user cache has a short
deadline.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_delete

from sso_api import policy, tokens
from sso_api.models import MicrosoftIdentity, RevocationReason


def _user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    policy.forget_cached_user(instance.pk)


def _user_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    policy.forget_cached_user(instance.pk)
    # raw: a fixture being loaded, whose sessions (if any) are loaded as they were.
    if not raw and getattr(instance, "is_active", True) is False:
        tokens.end_sessions_of_user(instance.pk, RevocationReason.USER_INACTIVE)


def _user_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    # The rows are about to go with the user (on_delete=CASCADE); ending them first is what
    # reports each ended session to the audit trail.
    tokens.end_sessions_of_user(instance.pk, RevocationReason.USER_DELETED)


def _identity_changed(sender: Any, instance: MicrosoftIdentity, **kwargs: Any) -> None:
    policy.forget_cached_account(instance.tenant_id, instance.object_id)


def _identity_deleting(
    sender: Any, instance: MicrosoftIdentity, origin: Any = None, **kwargs: Any
) -> None:
    # Its sessions go with it (on_delete=CASCADE); ending them first reports each one.
    # ``origin`` is what was deleted: the user (and with them this identity), or the
    # identity itself.
    user_model = get_user_model()
    deleted_model = getattr(origin, "model", type(origin))
    user_deleted = isinstance(deleted_model, type) and issubclass(deleted_model, user_model)
    reason = RevocationReason.USER_DELETED if user_deleted else RevocationReason.IDENTITY_DELETED
    tokens.end_sessions_of_identities([instance.pk], reason)


def connect() -> None:
    """Connect the receivers (idempotent: each has a fixed ``dispatch_uid``)."""
    # The user model and every proxy of it: a proxy sends its own class. Never without a
    # sender: a delete receiver for every model would cost every bulk delete of the project
    # Django's fast path (it would load each row to send it the signal).
    user_model = get_user_model()
    for model in apps.get_models(include_auto_created=False):
        if model._meta.concrete_model is not user_model:
            continue
        label = model._meta.label_lower
        post_save.connect(_user_saved, sender=model, dispatch_uid=f"sso_api.saved.{label}")
        pre_delete.connect(_user_deleting, sender=model, dispatch_uid=f"sso_api.deleting.{label}")
        post_delete.connect(_user_changed, sender=model, dispatch_uid=f"sso_api.deleted.{label}")
    post_save.connect(
        _identity_changed, sender=MicrosoftIdentity, dispatch_uid="sso_api.identity_saved"
    )
    post_delete.connect(
        _identity_changed, sender=MicrosoftIdentity, dispatch_uid="sso_api.identity_deleted"
    )
    pre_delete.connect(
        _identity_deleting, sender=MicrosoftIdentity, dispatch_uid="sso_api.identity_deleting"
    )
