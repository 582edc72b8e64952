"""``app_uninstalled`` and ``tokens_revoked``: the workspace is leaving; a job forgets it.

Acknowledged at once (Bolt acks events before the listener runs); the deletion happens in
``workers.lifecycle.forget_team``, never inside Slack's request.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext

from bot.envelope import Malformed
from bot.services import services_of
from workers import queues

log = logging.getLogger(__name__)


def handle_app_uninstalled(event: dict[str, Any], context: BoltContext) -> None:
    """The app was removed from the workspace: forget everything kept for it."""
    _forget(context, reason="app_uninstalled")


def handle_tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
    """Tokens were revoked: when the bot's are among them, the app can no longer act here."""
    tokens = event.get("tokens") or {}
    bots = tokens.get("bot") if isinstance(tokens, dict) else None
    if not bots:
        log.info("event=user_tokens_revoked team=%s", context.team_id)
        return  # only people's tokens, which the app does not use
    _forget(context, reason="tokens_revoked")


def _forget(context: BoltContext, *, reason: str) -> None:
    if not context.team_id:
        raise Malformed("no team")
    services = services_of(context)
    queues.enqueue_forget_team(
        services.conn, team=context.team_id, enterprise_id=context.enterprise_id
    )
    log.warning("event=workspace_leaving team=%s reason=%s", context.team_id, reason)
