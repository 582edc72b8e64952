"""``rally-slack remind --once [--now ISO8601] [--enqueue]``: one reminder sync and tick,
and the channel digests that are due.

Runs them in this process, posting itself, then exits 0 and prints ``synced N, reminded
M, digests D``; ``--enqueue`` leaves them as jobs for the workers instead. ``--now`` runs
them as of that moment (the tick's "due within the lead", and which digests are due, are
judged against it), for trying out and tests.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from core.redis import worker_redis
from core.settings import load_settings
from workers import queues


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-06-01T09:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. a trailing Z")
    return value.astimezone(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``rally-slack remind``'s options."""
    parser.add_argument("--once", action="store_true", required=True, help="run once and exit")
    parser.add_argument(
        "--now", type=_instant, default=None, help="run as of this ISO 8601 time (default: now)"
    )
    parser.add_argument(
        "--enqueue",
        action="store_true",
        help="leave the sync, tick and digests as jobs on rally-reminders for the workers instead",
    )


def run(args: argparse.Namespace) -> int:
    """One sync and one tick (see the module docstring)."""
    settings = load_settings()
    conn = worker_redis(settings.redis_url)
    if args.enqueue:
        queues.enqueue_reminder_tick(conn)
        print("queued a sync, a tick and the digests on rally-reminders")
        return 0
    from workers.digests import run_digests
    from workers.reminder_poster import SlackPoster
    from workers.reminders.jobs import run_once

    def poster_for(team: str | None) -> SlackPoster:
        poster = SlackPoster.from_settings(settings, conn, team=team)
        if args.now is not None:
            poster.clock = lambda: args.now
        return poster

    synced, ticked = run_once(settings, poster_for, now=args.now)
    digests = run_digests(settings, now=args.now)
    locked = " (another sync was running)" if synced.locked else ""
    failed = ticked.failed + digests.failed
    print(
        f"synced {synced.seen}{locked}, reminded {ticked.posted}, digests {digests.posted}"
        + (f", failed {failed}" if failed else "")
    )
    conn.close()
    return 0
