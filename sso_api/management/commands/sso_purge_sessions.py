"""``manage.py sso_purge_sessions``: delete session rows that ended long ago.

Safe to run from cron while the API serves requests: rows go in short transactions of
at most ``--batch-size`` rows each (:func:`sso_api.tokens.purge_ended_sessions`), so
sign-ins and refreshes go on meanwhile, and an interrupted run loses nothing (the next one
continues). It prints how many rows it deleted, never what was in them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sso_api import tokens


class Command(BaseCommand):
    help = (
        "Delete sign-in sessions that were revoked, or expired, more than "
        "--older-than-days days ago, in batches of --batch-size rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=30,
            help="Keep sessions that ended within this many days, for the record "
            "(default 30; 0 deletes every ended session).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Rows deleted per transaction (default 1000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Checked here rather than by argparse, so that call_command(..., older_than_days=-1)
        # is refused too: a cutoff in the future would delete sessions that are still live.
        days, batch_size = options["older_than_days"], options["batch_size"]
        if not isinstance(days, int) or days < 0:
            raise CommandError(f"--older-than-days must be a whole number >= 0, not {days!r}.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise CommandError(f"--batch-size must be a whole number >= 1, not {batch_size!r}.")
        batches = tokens.purge_ended_sessions(timedelta(days=days), batch_size=batch_size)
        total = 0
        for number, deleted in enumerate(batches, start=1):
            total += deleted
            if options["verbosity"] >= 2:
                self.stdout.write(f"Batch {number}: deleted {deleted} sessions.")
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Deleted {total} session{'' if total == 1 else 's'} that ended more than "
                f"{days} day{'' if days == 1 else 's'} ago."
            )
