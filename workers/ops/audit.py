"""``rally-slack audit --team T [--since ISO8601]``: the team's audit trail, oldest first.

One line per action: when, who, what, which activity, from which surface, and the details
(never a key or token: none is ever written to the trail).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from core.settings import load_settings
from workers.workspace import store_of


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--team", required=True, help="the Slack team id (T…)")
    parser.add_argument("--since", type=_instant, default=None, help="only from this time on")


def run(args: argparse.Namespace) -> int:
    store = store_of(load_settings())
    for entry in store.audit_trail(args.team, since=args.since):
        detail = json.dumps(entry.detail, sort_keys=True) if entry.detail else ""
        print(
            f"{entry.at.astimezone(UTC).isoformat(timespec='seconds')} "
            f"{entry.user_id or '-'} {entry.action} {entry.activity_id or '-'} "
            f"via {entry.surface} {detail}".rstrip()
        )
    return 0
