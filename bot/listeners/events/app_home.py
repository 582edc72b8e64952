"""``app_home_opened``: publish the user's home tab."""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_sdk import WebClient

from bot.blocks.home import build_home
from bot.services import services_of
from workers.state import Origin

log = logging.getLogger(__name__)


def handle_app_home_opened(event: dict[str, Any], client: WebClient, context: Any) -> None:
    """Publish the home view (Events API: Bolt acknowledges before this runs)."""
    if event.get("tab") not in (None, "home"):
        return
    services = services_of(context)
    user = event["user"]
    team = context.get("team_id") or ""
    recent: list[tuple[str, Origin]] = []
    try:
        for activity_id in services.state.recent_activity_ids(team, user, limit=20):
            origin = services.state.get_origin(activity_id)
            if origin is not None:
                recent.append((activity_id, origin))
    except redis.RedisError:
        log.warning("event=home_state_unavailable user=%s", user)
    client.views_publish(
        user_id=user, view=build_home(recent, app_url=services.settings.rally_app_url)
    )
