"""What this app does when users and identities change, however they change.

Connected in :meth:`sso_api.apps.SSOApiConfig.ready`. Receivers run for saves and deletes
through the ORM (the admin, management commands, a project's own code); a bulk
``QuerySet.update()`` sends no signal, which is why the per-worker user cache also has a
short deadline.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from sso_api import policy
from sso_api.models import MicrosoftIdentity


def _user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    policy.forget_cached_user(instance.pk)


def _identity_changed(sender: Any, instance: MicrosoftIdentity, **kwargs: Any) -> None:
    policy.forget_cached_account(instance.tenant_id, instance.object_id)


def connect() -> None:
    """Connect the receivers (idempotent: each has a fixed ``dispatch_uid``)."""
    user_model = get_user_model()
    post_save.connect(_user_changed, sender=user_model, dispatch_uid="sso_api.user_saved")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid="sso_api.user_deleted")
    post_save.connect(
        _identity_changed, sender=MicrosoftIdentity, dispatch_uid="sso_api.identity_saved"
    )
    post_delete.connect(
        _identity_changed, sender=MicrosoftIdentity, dispatch_uid="sso_api.identity_deleted"
    )
