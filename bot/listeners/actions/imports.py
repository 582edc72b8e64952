"""**Import** on a CSV preview: only the person who shared the file may start it.

The button's value is the stored import's id (``workers.imports.progress``), never the
file. The click is checked against the import's owner here (anyone else is told so and
nothing runs; the job checks again), the preview is replaced at once by "starting", so a
second click has no button to press, and a job does the importing.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.envelope import Malformed
from bot.services import services_of
from slack_ui import imports as ui
from workers import queues
from workers.imports import progress
from workers.slack import tell_user

log = logging.getLogger(__name__)

_IMPORT_ID = re.compile(r"^[0-9a-f]{32}\Z")
NOT_YOURS = ":no_entry: Only <@{owner}>, who shared this file, can import it. Nothing was imported."
RUNNING = "This file is being imported already; the message above shows how far it got."
EXPIRED = "This import is no longer kept; share the file again to import it."


def handle_import(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
    respond: Respond,
    context: BoltContext,
) -> None:
    """``csv_import_start``: check who clicked, then queue the import."""
    ack()
    import_id = action.get("value")
    if not isinstance(import_id, str) or not _IMPORT_ID.match(import_id):
        raise Malformed("that button isn't one this app showed")
    team, user = context.team_id, context.user_id
    container = body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if not team or not user or not isinstance(channel, str):
        raise Malformed("no team, user or channel")
    services = services_of(context)
    raw = services.conn.hget(progress.key(import_id), "meta")
    if raw is None:
        tell_user(client, body, EXPIRED)
        return
    meta = json.loads(raw)
    if (meta.get("team"), meta.get("user")) != (team, user):
        log.warning("event=import_click_refused team=%s user=%s", team, user)
        tell_user(client, body, NOT_YOURS.format(owner=meta.get("user")))
        return
    queued = queues.enqueue_import(
        services.conn,
        services.settings,
        import_id=import_id,
        team=team,
        user=user,
        channel=channel,
        message_ts=ts if isinstance(ts, str) else None,
    )
    if not queued:
        tell_user(client, body, RUNNING)
        return
    name = str(meta.get("filename") or "file.csv")
    starting = ui.progress(filename=name, done=0, total=0, created=0, failed=0)
    respond(replace_original=True, **starting.to_dict())
