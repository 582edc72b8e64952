"""``app_home_opened``: publish the user's home tab (open tasks, recent activity, log buttons)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.services import services_of
from workers.open_tasks import publish_home

log = logging.getLogger(__name__)


def handle_app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Publish the home view (Events API: Bolt acknowledges before this runs).

    Reads Redis only (the reminder index and app state), never the Activities API.
    """
    user = event.get("user")
    if event.get("tab") not in (None, "home") or not isinstance(user, str) or not user:
        return
    services = services_of(context)
    team = context.team_id or ""
    if not publish_home(client, services.conn, services.settings, team=team, user=user):
        log.warning("event=home_not_published user=%s", user)
