"""``manage.py sso_end_sessions --username ada``: end every live session of one user.

The user is found by exactly one of ``--username``, ``--email`` (case-insensitive) or
``--object-id`` (with ``--tenant-id`` when the object id is known in several tenants).
Each ended session is reported to the audit trail with ``reason="admin"`` and no actor.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sso_api import tokens
from sso_api.models import MicrosoftIdentity, RevocationReason


class Command(BaseCommand):
    help = (
        "End every live sign-in session of one user, found by --username, --email or "
        "--object-id (and --tenant-id). Their refresh tokens stop working at once; access "
        "tokens already issued stay valid until they expire."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--username", help="The user's username (exact).")
        who.add_argument("--email", help="The user's email address (case-insensitive).")
        who.add_argument(
            "--object-id", help="The Microsoft account's object id (oid), as Entra shows it."
        )
        parser.add_argument(
            "--tenant-id",
            help="With --object-id: the account's tenant (directory) id, when the object id "
            "is known in several tenants.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tenant_id"] and not options["object_id"]:
            raise CommandError("--tenant-id narrows --object-id; give both.")
        if options["username"] is not None:
            user = user_by_username(options["username"])
        elif options["email"] is not None:
            user = user_by_email(options["email"])
        else:
            user = user_by_object_id(options["object_id"], options["tenant_id"])
        ended = tokens.end_sessions_of_user(user.pk, RevocationReason.ADMIN)
        self.stdout.write(
            f"Ended {ended} session{'' if ended == 1 else 's'} of {user.get_username()} "
            f"(user id {user.pk})."
        )


def user_by_username(username: str) -> AbstractBaseUser:
    """The user whose ``USERNAME_FIELD`` is ``username``; raises CommandError if none."""
    user_model = get_user_model()
    try:
        return user_model._default_manager.get(**{user_model.USERNAME_FIELD: username})
    except user_model.DoesNotExist:
        raise CommandError(f"No user has the username {username!r}.") from None


def user_by_email(email: str) -> AbstractBaseUser:
    """The one user with this email (case-insensitive); raises CommandError for none or
    several, since ending the wrong person's sessions is worse than asking again."""
    user_model = get_user_model()
    field = user_model.get_email_field_name()
    try:
        user_model._meta.get_field(field)
    except FieldDoesNotExist:
        raise CommandError(
            "The user model has no email field; use --username or --object-id."
        ) from None
    matches = list(user_model._default_manager.filter(**{f"{field}__iexact": email.strip()})[:2])
    if not matches:
        raise CommandError(f"No user has the email {email!r}.")
    if len(matches) > 1:
        raise CommandError(
            f"Several users have the email {email!r}; name one with --username or --object-id."
        )
    return matches[0]


def user_by_object_id(object_id: str, tenant_id: str | None) -> AbstractBaseUser:
    """The user bound to the Microsoft account ``object_id`` (in ``tenant_id`` if given).

    Raises CommandError when no identity matches, or when several do (the same object id
    in several tenants) and ``tenant_id`` was not given.
    """
    # Identities store both GUIDs lower-cased (sso_api.claims), so any case given matches.
    identities = MicrosoftIdentity.objects.select_related("user").filter(
        object_id=object_id.strip().lower()
    )
    if tenant_id:
        identities = identities.filter(tenant_id=tenant_id.strip().lower())
    matches = list(identities[:2])
    where = f" in tenant {tenant_id!r}" if tenant_id else ""
    if not matches:
        raise CommandError(f"No Microsoft identity has the object id {object_id!r}{where}.")
    if len(matches) > 1:
        tenants = ", ".join(sorted(identities.values_list("tenant_id", flat=True).distinct()[:10]))
        raise CommandError(
            f"The object id {object_id!r} is known in several tenants ({tenants}); "
            "name one with --tenant-id."
        )
    return matches[0].user
