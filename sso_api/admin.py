"""The Django admin for operators: Microsoft identities, sessions, and a user's sessions.

Imported by the admin's autodiscovery (``django.contrib.admin`` in ``INSTALLED_APPS``).
It registers two read-only pages on ``admin.site``:

* **Microsoft identities**: find an account by email, object id or tenant id, see when it
  first and last signed in and which user it is bound to; deleting one unbinds the
  Microsoft account (its sessions are ended first, and reported to the audit trail);
* **sessions**: every sign-in's refresh family with its status, filterable by status and
  searchable by user and object id; "Revoke selected sessions" ends them.

On the user model's own admin page, :class:`SSOUserAdminMixin` adds the user's identities
and sessions as read-only inlines, an "End all sessions" button and an action of the same
name on the user list. When the user model is already registered on ``admin.site`` as
this module loads (``django.contrib.auth`` listed before ``sso_api``, as autodiscovery
imports admin modules in ``INSTALLED_APPS`` order), it is registered again with the mixin
added; a project that registers its own user admin later adds the mixin itself
(docs/sessions.md).

Sessions are ended only through :mod:`sso_api.tokens`, which reports each one with
``reason="admin"`` and the operator as ``actor_id``. No page shows a session's current
refresh token id or Microsoft's session id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import F, Model, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.loader import get_template, select_template
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from sso_api import tokens
from sso_api.models import MicrosoftIdentity, RefreshSession, RevocationReason

if TYPE_CHECKING:
    _IdentityAdminBase = admin.ModelAdmin[MicrosoftIdentity]
    _SessionAdminBase = admin.ModelAdmin[RefreshSession]
    _IdentityInlineBase = admin.TabularInline[MicrosoftIdentity, Any]
    _SessionInlineBase = admin.TabularInline[RefreshSession, Any]
    _UserAdminBase = admin.ModelAdmin[Any]
else:
    # The admin classes are generic only for the type checker.
    _IdentityAdminBase = _SessionAdminBase = admin.ModelAdmin
    _IdentityInlineBase = _SessionInlineBase = admin.TabularInline
    _UserAdminBase = object

# The template that adds the "End all sessions" button to the user's change form, on top
# of whichever change form template the user admin would use otherwise.
END_SESSIONS_BUTTON_TEMPLATE = "sso_api/admin/user_change_form.html"
# What no admin page shows, or lets anyone filter on: the id of the one refresh token of a
# family that still works, and Microsoft's session id (front-channel logout ends every
# session carrying it).
HIDDEN_SESSION_FIELDS = frozenset({"current_jti", "microsoft_session_id"})


def _counted(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _user_search_fields(prefix: str = "") -> tuple[str, ...]:
    """Search fields for the user model's username and email, as ``prefix`` + field name.

    Read from the user model each time: a custom user model may name them otherwise, or
    have no email field at all.
    """
    user_model = get_user_model()
    names = [user_model.USERNAME_FIELD, user_model.get_email_field_name()]
    found: list[str] = []
    for name in dict.fromkeys(names):
        try:
            user_model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        found.append(f"{prefix}{name}")
    return tuple(found)


def _user_link(admin_site: admin.AdminSite, user: Model) -> str:
    """The user as a link to their admin page on ``admin_site`` (plain text when the user
    model has no page there)."""
    opts = user._meta
    if not admin_site.is_registered(type(user)):
        return str(user)
    url = reverse(
        f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=(quote(user.pk),)
    )
    return format_html('<a href="{}">{}</a>', url, user)


class SessionStatusFilter(admin.SimpleListFilter):
    """Sessions by :attr:`RefreshSession.status`, decided in the database as of now."""

    title = "status"
    parameter_name = "status"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> Iterable[tuple[str, str]]:
        return (("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        now = timezone.now()
        # The same precedence as RefreshSession.status: revoked wins over expired.
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


class _ReadOnlyAdminMixin:
    """Nothing is added or edited here: sign-in makes these rows, and only
    :mod:`sso_api.tokens` changes them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _IdentityColumns:
    """Identity columns whose headers say what the dates mean here."""

    @admin.display(description="first sign-in", ordering="created_at")
    def first_sign_in(self, identity: MicrosoftIdentity) -> datetime:
        return identity.created_at

    @admin.display(description="last sign-in", ordering="last_login_at")
    def last_sign_in(self, identity: MicrosoftIdentity) -> datetime | None:
        return identity.last_login_at


class _SessionColumns:
    """Session columns, shared by the sessions page and the user's inline."""

    @admin.display(description="started", ordering="created_at")
    def started(self, session: RefreshSession) -> datetime:
        return session.created_at

    @admin.display(description="last refreshed", ordering="last_refreshed_at")
    def last_refreshed(self, session: RefreshSession) -> datetime | None:
        return session.last_refreshed_at

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, session: RefreshSession) -> datetime:
        return session.expires_at

    @admin.display(description="status")
    def status(self, session: RefreshSession) -> str:
        return session.status


@admin.register(MicrosoftIdentity)
class MicrosoftIdentityAdmin(_ReadOnlyAdminMixin, _IdentityColumns, _IdentityAdminBase):
    """Microsoft accounts and the users they are bound to; read-only, deletable.

    Deleting an identity unbinds the Microsoft account from its user (the account's next
    sign-in is matched to a user, or creates one, as a first sign-in is: docs/users.md).
    Its sessions would go with it unreported (``on_delete=CASCADE``), so they are ended
    first through :func:`sso_api.tokens.end_sessions`, as an administrator's doing.
    """

    list_display = (
        "tenant_id",
        "object_id",
        "email",
        "email_trusted",
        "first_sign_in",
        "last_sign_in",
        "user_link",
    )
    list_filter = ("email_trusted",)
    list_select_related = ("user",)
    ordering = (F("last_login_at").desc(nulls_last=True),)
    fields = (
        "user",
        "tenant_id",
        "object_id",
        "email",
        "email_trusted",
        "app_roles",
        "first_sign_in",
        "last_sign_in",
    )
    readonly_fields = fields
    # A large table: no second COUNT(*) of the whole table beside the filtered one.
    show_full_result_count = False

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("email", "object_id", "tenant_id", *_user_search_fields("user__"))

    @admin.display(description="user")
    def user_link(self, identity: MicrosoftIdentity) -> str:
        return _user_link(self.admin_site, identity.user)

    @admin.display(description="app roles at the last sign-in")
    def app_roles(self, identity: MicrosoftIdentity) -> str:
        return ", ".join(identity.roles)

    def get_deleted_objects(
        self, objs: Sequence[MicrosoftIdentity] | QuerySet[MicrosoftIdentity], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The identity's sessions go with it, ended first (below): deleting an identity does
        # not need the permission to delete sessions, which nobody has here.
        session_name = str(RefreshSession._meta.verbose_name)
        perms_needed = {name for name in perms_needed if str(name) != session_name}
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: MicrosoftIdentity) -> None:
        _end_sessions_of_identities(request, [obj.pk])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        _end_sessions_of_identities(request, list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)


def _end_sessions_of_identities(request: HttpRequest, identity_ids: list[Any]) -> int:
    # Before the identity's own pre_delete receiver would: this way the audit trail names
    # the operator, not just the deletion.
    return tokens.end_sessions_of_identities(
        identity_ids, RevocationReason.ADMIN, actor_id=request.user.pk
    )


@admin.register(RefreshSession)
class RefreshSessionAdmin(_ReadOnlyAdminMixin, _SessionColumns, _SessionAdminBase):
    """Sign-in sessions: read-only, never added or deleted here; revoked by the action.

    Revoking needs the ``change`` permission of sessions (the page itself stays
    read-only). Rows that ended long ago are removed by ``manage.py sso_purge_sessions``,
    not here: deleting a live row would end its session without an audit event.
    """

    list_display = (
        "id",
        "user_link",
        "method",
        "started",
        "last_refreshed",
        "expires",
        "status",
        "revoked_reason",
        "user_agent",
    )
    list_filter = (SessionStatusFilter, "method", "revoked_reason")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    # Left out on purpose: ``current_jti`` (the id of the one refresh token of the family
    # that still works) and ``microsoft_session_id`` (front-channel logout ends every
    # session of it).
    fields = (
        "id",
        "user",
        "identity",
        "method",
        "status",
        "started",
        "last_refreshed",
        "expires",
        "revoked_at",
        "revoked_reason",
        "scopes",
        "user_agent",
    )
    readonly_fields = fields
    actions = ("revoke_selected_sessions",)
    show_full_result_count = False

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (*_user_search_fields("user__"), "identity__object_id")

    def lookup_allowed(self, lookup: str, value: str, request: Any = None) -> bool:
        # The fields this page never shows must not be guessable either, one
        # ``?current_jti__startswith=`` filter at a time.
        if lookup.split("__", 1)[0] in HIDDEN_SESSION_FIELDS:
            return False
        return bool(super().lookup_allowed(lookup, value, request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Whether the operator may end sessions: the ``change`` permission of sessions."""
        codename = get_permission_codename("change", self.opts)
        return bool(request.user.has_perm(f"{self.opts.app_label}.{codename}"))

    @admin.display(description="user")
    def user_link(self, session: RefreshSession) -> str:
        return _user_link(self.admin_site, session.user)

    @admin.action(description="Revoke selected sessions", permissions=["revoke"])
    def revoke_selected_sessions(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        ended = tokens.end_sessions(selected, RevocationReason.ADMIN, actor_id=request.user.pk)
        message = f"Ended {_counted(ended, 'session', 'sessions')}."
        if ended < len(selected):
            others = _counted(len(selected) - ended, "other was", "others were")
            message += f" {others} already revoked or expired."
        self.message_user(request, message, messages.SUCCESS)


class MicrosoftIdentityInline(_ReadOnlyAdminMixin, _IdentityColumns, _IdentityInlineBase):
    """The user's Microsoft identities, on the user's page; each links to its own page."""

    model = MicrosoftIdentity
    fields = ("tenant_id", "object_id", "email", "email_trusted", "first_sign_in", "last_sign_in")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


class RefreshSessionInline(_ReadOnlyAdminMixin, _SessionColumns, _SessionInlineBase):
    """The user's newest sessions (at most :data:`sso_api.tokens.LISTED_SESSIONS`, any
    status), on the user's page; the sessions page lists them all."""

    model = RefreshSession
    fields = (
        "started",
        "method",
        "status",
        "last_refreshed",
        "expires",
        "revoked_reason",
        "user_agent",
    )
    readonly_fields = fields
    ordering = ("-created_at",)
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "sign-in sessions (the newest)"


class SSOUserAdminMixin(_UserAdminBase):
    """What the user model's admin gains: identities and sessions, and ending sessions.

    Put it first among the bases of a project's own user admin::

        @admin.register(User)
        class UserAdmin(SSOUserAdminMixin, BaseUserAdmin): ...

    It adds, on the change page of an existing user, read-only inlines of the user's
    Microsoft identities and newest sessions (for operators allowed to view them) and an
    "End all sessions" button (a POST form to ``<user>/end-sessions/``, for operators with
    the ``change`` permission of that user); and the changelist action "End all sessions
    of the selected users" (the same permission). Both end sessions through
    :func:`sso_api.tokens.end_sessions_of_user` with ``reason="admin"`` and the operator
    as ``actor_id``, and leave a line in the user's admin history.

    The button is drawn by :data:`END_SESSIONS_BUTTON_TEMPLATE`, which extends whatever
    change form template the admin would use otherwise (``change_form_template``, or
    ``admin/<app>/<model>/change_form.html`` and its fallbacks).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An instance attribute, so that a subclass with its own ``actions`` keeps them
        # and gains this one; ``actions = None`` (no actions at all) is respected.
        if self.actions is not None and "end_all_sessions_of_selected_users" not in list(
            self.actions
        ):
            self.actions = (*self.actions, "end_all_sessions_of_selected_users")

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin[Any, Any]]]:
        inlines = list(super().get_inlines(request, obj))
        if obj is not None:
            inlines += [MicrosoftIdentityInline, RefreshSessionInline]
        return inlines

    def get_formset_kwargs(
        self, request: HttpRequest, obj: Any, inline: Any, prefix: str
    ) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, RefreshSessionInline) and obj is not None and obj.pk is not None:
            # A scripted account may have thousands of rows: show the newest ones. The ids
            # are read first because some databases refuse LIMIT inside IN (...).
            newest = RefreshSession.objects.filter(user_id=obj.pk).order_by("-created_at")
            ids = list(newest.values_list("pk", flat=True)[: tokens.LISTED_SESSIONS])
            kwargs["queryset"] = kwargs["queryset"].filter(pk__in=ids)
        return kwargs

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        end_sessions = path(
            "<path:object_id>/end-sessions/",
            self.admin_site.admin_view(self.end_all_sessions_view),
            name=f"{opts.app_label}_{opts.model_name}_end_sessions",
        )
        # Before the model admin's own patterns, whose "<path:object_id>/" matches any
        # path below a user.
        return [end_sessions, *super().get_urls()]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        response = super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )
        if (
            change
            and obj is not None
            and isinstance(response, TemplateResponse)
            and response.context_data is not None
            and self.has_change_permission(request, obj)
        ):
            # Draw the button on top of the template the admin chose, so that a project's
            # own user change form (an attribute or an admin/<app>/<model>/ override) stays.
            chosen = response.template_name
            parent = (
                select_template(list(chosen))
                if isinstance(chosen, (list, tuple))
                else get_template(cast(str, chosen))
            )
            response.context_data["sso_change_form_template"] = parent
            response.context_data["sso_end_sessions_url"] = self._end_sessions_url(obj)
            response.template_name = END_SESSIONS_BUTTON_TEMPLATE
        return response

    def _end_sessions_url(self, user: Any) -> str:
        opts = self.opts
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_end_sessions",
            args=(quote(user.pk),),
        )

    def end_all_sessions_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only (CSRF-checked by ``admin_view``): end every live session of the user,
        then go back to their page with a message. 405 for other methods, 404 for an
        unknown user, 403 without the ``change`` permission of that user."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404("No such user.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        ended = _end_sessions_of_users(self, request, [user])
        self.message_user(
            request, f"Ended {_counted(ended, 'session', 'sessions')} of {user}.", messages.SUCCESS
        )
        opts = self.opts
        change_url = reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
            args=(quote(user.pk),),
        )
        return HttpResponseRedirect(change_url)

    @admin.action(description="End all sessions of the selected users", permissions=["change"])
    def end_all_sessions_of_selected_users(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> None:
        users = list(queryset)
        ended = _end_sessions_of_users(self, request, users)
        self.message_user(
            request,
            f"Ended {_counted(ended, 'session', 'sessions')} of "
            f"{_counted(len(users), 'user', 'users')}.",
            messages.SUCCESS,
        )


def _end_sessions_of_users(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, users: Iterable[Any]
) -> int:
    """End every live session of each of ``users`` as the operator of ``request``; returns
    how many ended. The user's admin history records it when any did."""
    total = 0
    for user in users:
        ended = tokens.end_sessions_of_user(
            user.pk, RevocationReason.ADMIN, actor_id=request.user.pk
        )
        if ended:
            model_admin.log_change(
                request, user, f"Ended {_counted(ended, 'sign-in session', 'sign-in sessions')}."
            )
        total += ended
    return total


def add_sso_to_user_admin(site: admin.AdminSite | None = None) -> bool:
    """Register the user model's admin on ``site`` again with :class:`SSOUserAdminMixin`.

    Does nothing, and returns False, when the user model is not registered on ``site``
    (default ``admin.site``) or its admin already has the mixin. Otherwise replaces the
    registration with a subclass of the registered admin's class that adds the mixin,
    and returns True. Uses ``AdminSite.get_model_admin`` (Django 5.0 and later).
    """
    site = site if site is not None else admin.site
    user_model = get_user_model()
    if not site.is_registered(user_model):
        return False
    registered = site.get_model_admin(user_model)
    if isinstance(registered, SSOUserAdminMixin):
        return False
    admin_class = type(registered)
    with_mixin = type(
        admin_class.__name__,
        (SSOUserAdminMixin, admin_class),
        {"__module__": __name__, "__doc__": admin_class.__doc__},
    )
    site.unregister(user_model)
    site.register(user_model, with_mixin)
    return True


add_sso_to_user_admin()
