"""``message`` in the app's DM with a file: a CSV to import (SPEC §7, CSV import).

The manifest subscribes to ``message.im`` only. Of those, a person's ``file_share`` with
files queues one job per file (``workers.imports.slack.read_shared_file``), which
downloads, reads and previews it; everything else (the person's plain messages, the
app's own) is left alone. Nothing is downloaded while Slack waits.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import BoltContext

from bot.envelope import Malformed
from bot.services import services_of
from workers import queues

log = logging.getLogger(__name__)

MAX_FILES = 10
"""Slack attaches at most 10 files to a message."""
_FILE_ID = re.compile(r"^F[A-Z0-9]{2,40}\Z")


def handle_message(event: dict[str, Any], context: BoltContext) -> None:
    """Queue reading each file a person shared in their DM with the app."""
    if event.get("channel_type") != "im" or event.get("subtype") != "file_share":
        return
    if event.get("bot_id"):
        return
    team, user, channel = context.team_id, event.get("user"), event.get("channel")
    if not team or not isinstance(user, str) or not isinstance(channel, str):
        raise Malformed("no team, user or channel")
    files = event.get("files")
    if not isinstance(files, list):
        raise Malformed("a file_share without files")
    services = services_of(context)
    for file in files[:MAX_FILES]:
        file_id = file.get("id") if isinstance(file, dict) else None
        if not isinstance(file_id, str) or not _FILE_ID.match(file_id):
            raise Malformed("a file without an id")
        queues.enqueue_read_shared_file(
            services.conn, team=team, user=user, channel=channel, file_id=file_id
        )
        log.info("event=file_share_queued team=%s user=%s file=%s", team, user, file_id)
