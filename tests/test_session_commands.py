"""The operators' commands: ``sso_end_sessions`` (one user's sessions, found by username,
email or Microsoft object id) and ``sso_purge_sessions`` (rows that ended long ago, in
short batches, while sessions go on refreshing)."""

from __future__ import annotations

import queue
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sso_api.models import MicrosoftIdentity, RefreshSession, RevocationReason
from sso_api.testing import FakeUser
from sso_api.testing.client import SignInDriver

pytestmark = pytest.mark.django_db
User = get_user_model()

# Any UUID as a database writes it in SQL: 32 hex digits, with or without dashes.
UUID_LITERAL = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def refresh(client: Client, token: str) -> Any:
    return client.post(
        "/api/sso/token/refresh/", {"refresh": token}, content_type="application/json"
    )


def run(*args: str, **options: Any) -> str:
    """Run a command of this app; returns what it printed."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


def account(username: str, email: str, tenant_id: str, object_id: str) -> MicrosoftIdentity:
    """A user bound to the Microsoft account ``(tenant_id, object_id)``."""
    user = User.objects.create_user(username=username, email=email)
    return MicrosoftIdentity.objects.create(
        user=user, tenant_id=tenant_id, object_id=object_id, email=email
    )


def session(
    identity: MicrosoftIdentity,
    *,
    revoked: timedelta | None = None,
    expired: timedelta | None = None,
) -> RefreshSession:
    """A session of ``identity``: live, or revoked or expired ``revoked``/``expired`` ago."""
    now = timezone.now()
    return RefreshSession.objects.create(
        user=identity.user,
        identity=identity,
        current_jti=uuid.uuid4().hex,
        expires_at=now - expired if expired is not None else now + timedelta(days=7),
        revoked_at=now - revoked if revoked is not None else None,
        revoked_reason=RevocationReason.LOGOUT if revoked is not None else "",
    )


def live(*sessions: RefreshSession) -> list[bool]:
    """Whether each session can still refresh, as the database says now."""
    return [RefreshSession.objects.get(pk=one.pk).status == "active" for one in sessions]


# --- sso_end_sessions ---------------------------------------------------------------------


def test_ending_a_users_sessions_by_username_stops_their_refresh_tokens(
    browser: SignInDriver, ada: FakeUser, grace: FakeUser, ended: list[dict[str, Any]]
) -> None:
    laptop = browser.signed_in(ada)
    phone = browser.signed_in(ada)
    other = browser.signed_in(grace)
    username = MicrosoftIdentity.objects.get(object_id=ada.object_id).user.get_username()

    output = run("sso_end_sessions", "--username", username)

    assert output.startswith(f"Ended 2 sessions of {username} (user id ")
    for tokens in (laptop, phone):
        response = refresh(browser.client, tokens["refresh"])
        assert response.status_code == 401
        assert response.json()["code"] == "session_revoked"
    assert refresh(browser.client, other["refresh"]).status_code == 200
    assert [(event["reason"], event["actor_id"]) for event in ended] == [("admin", None)] * 2
    # The output names the user and a count, nothing of the tokens.
    assert laptop["refresh"] not in output
    assert all(one.current_jti not in output for one in RefreshSession.objects.all())


@pytest.mark.parametrize(
    ("selector", "value"),
    [
        ("--username", "ada"),
        ("--email", "ADA@Contoso.Example"),
        ("--object-id", "A0000000-0000-0000-0000-00000000000A"),
        ("--object-id", "a0000000-0000-0000-0000-00000000000a"),
    ],
    ids=["username", "email-any-case", "object-id-any-case", "object-id"],
)
def test_the_user_is_found_by_username_email_or_object_id(
    selector: str, value: str, ended: list[dict[str, Any]]
) -> None:
    ada = account("ada", "ada@contoso.example", "t-contoso", "a0000000-0000-0000-0000-00000000000a")
    bob = account("bob", "bob@contoso.example", "t-contoso", "b0000000-0000-0000-0000-00000000000b")
    adas, bobs = session(ada), session(bob)
    already_over = session(ada, revoked=timedelta(hours=1))

    output = run("sso_end_sessions", selector, value)

    assert output == f"Ended 1 session of ada (user id {ada.user.pk}).\n"
    assert live(adas, bobs) == [False, True]
    assert RefreshSession.objects.get(pk=adas.pk).revoked_reason == RevocationReason.ADMIN
    # A session that had already ended keeps its own reason.
    assert RefreshSession.objects.get(pk=already_over.pk).revoked_reason == "logout"
    assert [(event["session_id"], event["reason"]) for event in ended] == [(adas.pk, "admin")]


def test_an_object_id_known_in_several_tenants_needs_the_tenant_id() -> None:
    object_id = "c0000000-0000-0000-0000-00000000000c"
    in_contoso = account("c1", "c1@contoso.example", "t-contoso", object_id)
    in_fabrikam = account("c2", "c2@fabrikam.example", "t-fabrikam", object_id)
    contoso_session, fabrikam_session = session(in_contoso), session(in_fabrikam)

    with pytest.raises(CommandError, match=r"several tenants .*t-contoso, t-fabrikam.*--tenant-id"):
        run("sso_end_sessions", "--object-id", object_id)
    assert live(contoso_session, fabrikam_session) == [True, True]

    output = run("sso_end_sessions", "--object-id", object_id, "--tenant-id", "T-Fabrikam")

    assert output == f"Ended 1 session of c2 (user id {in_fabrikam.user.pk}).\n"
    assert live(contoso_session, fabrikam_session) == [True, False]


def test_an_email_shared_by_several_users_is_refused() -> None:
    first = account("first", "shared@contoso.example", "t", "o1")
    second = account("second", "Shared@Contoso.example", "t", "o2")
    sessions = session(first), session(second)

    with pytest.raises(CommandError, match=r"Several users have the email .*--username"):
        run("sso_end_sessions", "--email", "shared@contoso.example")
    assert live(*sessions) == [True, True]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--username", "nobody"], "No user has the username 'nobody'"),
        (["--email", "nobody@contoso.example"], "No user has the email"),
        (["--object-id", "d0000000-0000-0000-0000-00000000000d"], "No Microsoft identity"),
        (["--object-id", "o1", "--tenant-id", "elsewhere"], "in tenant 'elsewhere'"),
        (["--username", "ada", "--tenant-id", "t"], "--tenant-id narrows --object-id"),
        ([], "one of the arguments --username --email --object-id is required"),
        (["--username", "ada", "--email", "ada@contoso.example"], "not allowed with"),
    ],
    ids=[
        "unknown-username",
        "unknown-email",
        "unknown-object-id",
        "object-id-not-in-that-tenant",
        "tenant-without-object-id",
        "nobody-named",
        "two-selectors",
    ],
)
def test_a_user_that_cannot_be_named_exactly_is_an_error(
    arguments: list[str], message: str
) -> None:
    ada = account("ada", "ada@contoso.example", "t", "o1")
    adas = session(ada)

    with pytest.raises(CommandError, match=re.escape(message)):
        run("sso_end_sessions", *arguments)
    assert live(adas) == [True]


def test_an_unknown_user_makes_the_command_exit_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    utility = ManagementUtility(["manage.py", "sso_end_sessions", "--username", "nobody"])

    with pytest.raises(SystemExit) as exit_info:
        utility.execute()

    assert exit_info.value.code == 1
    assert "No user has the username 'nobody'" in capsys.readouterr().err


# --- sso_purge_sessions -------------------------------------------------------------------


def test_the_purge_deletes_only_sessions_that_ended_before_the_cutoff() -> None:
    identity = account("ada", "ada@contoso.example", "t", "o1")
    kept = [
        session(identity),
        session(identity, revoked=timedelta(days=1)),
        session(identity, expired=timedelta(days=29)),
    ]
    doomed = [
        session(identity, revoked=timedelta(days=31)),
        session(identity, expired=timedelta(days=45)),
        # Revoked recently, but it had already expired long before: it ended long ago.
        session(identity, revoked=timedelta(days=1), expired=timedelta(days=40)),
    ]

    output = run("sso_purge_sessions")

    assert output == "Deleted 3 sessions that ended more than 30 days ago.\n"
    assert set(RefreshSession.objects.values_list("pk", flat=True)) == {one.pk for one in kept}
    assert not RefreshSession.objects.filter(pk__in=[one.pk for one in doomed]).exists()


def test_the_purge_goes_in_batches_and_zero_days_deletes_every_ended_session() -> None:
    identity = account("ada", "ada@contoso.example", "t", "o1")
    still_live = session(identity)
    for _ in range(5):
        session(identity, revoked=timedelta(minutes=1))

    output = run("sso_purge_sessions", "--older-than-days", "0", "--batch-size", "2", verbosity=2)

    assert output.splitlines() == [
        "Batch 1: deleted 2 sessions.",
        "Batch 2: deleted 2 sessions.",
        "Batch 3: deleted 1 sessions.",
        "Deleted 5 sessions that ended more than 0 days ago.",
    ]
    assert list(RefreshSession.objects.values_list("pk", flat=True)) == [still_live.pk]


def test_the_purge_is_silent_at_verbosity_zero_for_cron() -> None:
    identity = account("ada", "ada@contoso.example", "t", "o1")
    session(identity, revoked=timedelta(days=90))

    assert run("sso_purge_sessions", verbosity=0) == ""
    assert not RefreshSession.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "options", "message"),
    [
        (["--older-than-days", "-1"], {}, "--older-than-days must be a whole number >= 0"),
        (["--batch-size", "0"], {}, "--batch-size must be a whole number >= 1"),
        ([], {"older_than_days": -1}, "--older-than-days must be a whole number >= 0"),
        ([], {"batch_size": 0}, "--batch-size must be a whole number >= 1"),
        (["--older-than-days", "soon"], {}, "invalid int value: 'soon'"),
    ],
    ids=[
        "negative-days",
        "empty-batches",
        "negative-days-from-code",
        "empty-batches-from-code",
        "not-a-number",
    ],
)
def test_the_purge_refuses_a_cutoff_in_the_future_or_empty_batches(
    arguments: list[str], options: dict[str, Any], message: str
) -> None:
    identity = account("ada", "ada@contoso.example", "t", "o1")
    # A cutoff in the future would take this live session, expiring within a day.
    expiring = RefreshSession.objects.create(
        user=identity.user,
        identity=identity,
        current_jti=uuid.uuid4().hex,
        expires_at=timezone.now() + timedelta(hours=1),
    )

    with pytest.raises(CommandError, match=re.escape(message)):
        run("sso_purge_sessions", *arguments, **options)
    assert live(expiring) == [True]


# The large-table test: 100,000 rows, most of them ended long ago.
TOTAL_ROWS = 100_000
KEPT_LIVE = 1_000
KEPT_RECENTLY_ENDED = 1_000
BATCH_SIZE = 5_000


def insert_sessions(count: int, label: str, **fields: Any) -> None:
    """Insert ``count`` sessions alike but for their ids, with ``label`` as user agent.

    One INSERT ... SELECT that makes the rows in the database. ``bulk_create`` compiles
    every value of every row in Python: for 100,000 rows that took 15 to 25 seconds on a
    busy test machine, most of the test's time, where this takes one.
    """
    template = RefreshSession(user_agent=label, current_jti="", **fields)
    # Each row's own id and refresh token id, made by the database.
    made_by_database = {
        "postgresql": {"id": "gen_random_uuid()", "current_jti": "md5(random()::text)"},
        "sqlite": {"id": "lower(hex(randomblob(16)))", "current_jti": "lower(hex(randomblob(16)))"},
    }[connection.vendor]
    columns: list[str] = []
    values: list[str] = []
    params: list[Any] = []
    for field in RefreshSession._meta.concrete_fields:
        columns.append(connection.ops.quote_name(str(field.column)))
        if field.name in made_by_database:
            values.append(made_by_database[field.name])
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(template, add=True), connection))
    table = connection.ops.quote_name(RefreshSession._meta.db_table)
    into = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)}"
    if connection.vendor == "postgresql":
        sql = f"{into} FROM generate_series(1, %s)"
        params = [*params, count]
    else:
        numbers = "SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < %s"
        sql = f"WITH RECURSIVE series(n) AS ({numbers}) {into} FROM series"
        params = [count, *params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db(transaction=True)
def test_purging_a_large_table_deletes_the_old_rows_in_bounded_batches_beside_live_sessions(
    browser: SignInDriver, ada: FakeUser
) -> None:
    signed_in = browser.signed_in(ada)
    current = RefreshSession.objects.get()
    now = timezone.now()
    old_rows = TOTAL_ROWS - 1 - KEPT_LIVE - KEPT_RECENTLY_ENDED
    same_account = {"user_id": current.user_id, "identity_id": current.identity_id}
    insert_sessions(KEPT_LIVE, "kept live", expires_at=now + timedelta(days=7), **same_account)
    insert_sessions(
        KEPT_RECENTLY_ENDED,
        "kept: revoked two days ago",
        expires_at=now + timedelta(days=7),
        revoked_at=now - timedelta(days=2),
        revoked_reason=RevocationReason.LOGOUT,
        **same_account,
    )
    insert_sessions(
        old_rows // 2,
        "old: revoked 31 days ago",
        expires_at=now + timedelta(days=1),
        revoked_at=now - timedelta(days=31),
        revoked_reason=RevocationReason.LOGOUT,
        **same_account,
    )
    insert_sessions(
        old_rows - old_rows // 2,
        "old: expired 60 days ago",
        expires_at=now - timedelta(days=60),
        **same_account,
    )
    assert RefreshSession.objects.count() == TOTAL_ROWS
    a_kept_live_row = RefreshSession.objects.filter(user_agent="kept live").first()
    assert a_kept_live_row is not None

    on_postgresql = connection.vendor == "postgresql"
    # PostgreSQL: the purge stops inside each batch's transaction, right after its DELETE,
    # while this thread updates live rows through its own connection, which gives up on
    # any lock after 2 seconds: a lock of the purge that blocked writers would fail it.
    paused: queue.Queue[bool | None] = queue.Queue()
    resume = threading.Semaphore(0)
    purge_statements: list[str] = []
    purge_failures: list[BaseException] = []
    output = StringIO()

    def pause_inside_each_batch(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("DELETE"):
            paused.put(connection.in_atomic_block)
            if not resume.acquire(timeout=30):
                raise TimeoutError("the test never let the purge go on")
        return result

    def purge() -> None:
        try:
            with CaptureQueriesContext(connection) as captured, ExitStack() as stack:
                if on_postgresql:
                    stack.enter_context(connection.execute_wrapper(pause_inside_each_batch))
                call_command("sso_purge_sessions", "--batch-size", str(BATCH_SIZE), stdout=output)
            purge_statements.extend(query["sql"] for query in captured.captured_queries)
        except BaseException as exc:
            purge_failures.append(exc)
        finally:
            paused.put(None)
            connections.close_all()

    worker = threading.Thread(target=purge)
    refresh_token = signed_in["refresh"]
    pauses: list[bool] = []
    if on_postgresql:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
    worker.start()
    try:
        while (inside_transaction := paused.get(timeout=120)) is not None:
            pauses.append(inside_transaction)
            updated = RefreshSession.objects.filter(pk=a_kept_live_row.pk).update(
                last_refreshed_at=timezone.now()
            )
            assert updated == 1
            rotated = refresh(browser.client, refresh_token)
            assert rotated.status_code == 200, rotated.content
            refresh_token = rotated.json()["refresh"]
            resume.release()
    finally:
        resume.release(1_000)
        worker.join(timeout=120)
        if on_postgresql:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    assert purge_failures == []

    assert output.getvalue() == f"Deleted {old_rows} sessions that ended more than 30 days ago.\n"
    remaining = Counter(RefreshSession.objects.values_list("user_agent", flat=True))
    assert remaining == {
        current.user_agent: 1,
        "kept live": KEPT_LIVE,
        "kept: revoked two days ago": KEPT_RECENTLY_ENDED,
    }
    deletes = [sql for sql in purge_statements if sql.lstrip().upper().startswith("DELETE")]
    rows_per_delete = [len(UUID_LITERAL.findall(sql)) for sql in deletes]
    assert len(deletes) > 1
    assert all(0 < rows <= BATCH_SIZE for rows in rows_per_delete)
    assert sum(rows_per_delete) == old_rows
    if on_postgresql:
        # Each DELETE was held open inside its batch's transaction while live rows changed.
        assert pauses == [True] * len(deletes)
    # The session refreshes as before once the purge is over.
    assert refresh(browser.client, refresh_token).status_code == 200
