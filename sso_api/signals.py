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


def connect() -> None:
    """Connect the receivers (idempotent: each has a fixed ``dispatch_uid``)."""
    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="sso_api.user_saved")
    pre_delete.connect(_user_deleting, sender=user_model, dispatch_uid="sso_api.user_deleting")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid="sso_api.user_deleted")
    post_save.connect(
        _identity_changed, sender=MicrosoftIdentity, dispatch_uid="sso_api.identity_saved"
    )
    post_delete.connect(
        _identity_changed, sender=MicrosoftIdentity, dispatch_uid="sso_api.identity_deleted"
    )
