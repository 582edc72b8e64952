"""``link_shared``: someone pasted Rally links; a job unfurls them (``workers.unfurls``).

Acknowledged at once (Bolt acks events before the listener runs). Only links under
``RALLY_APP_URL`` to an activity, deal, company or contact are kept; a message with none
(Slack sends every link of the app's unfurl domains) queues nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext

from bot.envelope import Malformed
from bot.services import services_of
from slack_ui.unfurls import parse_link
from workers import queues
from workers.unfurls import MAX_LINKS

log = logging.getLogger(__name__)


def handle_link_shared(event: dict[str, Any], context: BoltContext) -> None:
    """Queue the unfurl of the message's Rally links."""
    team, user = context.team_id, context.user_id or event.get("user")
    if not team or not isinstance(user, str):
        raise Malformed("no team or user")
    services = services_of(context)
    app_url = services.settings.rally_app_url
    links: list[str] = []
    for link in event.get("links") or []:
        url = link.get("url") if isinstance(link, dict) else None
        if isinstance(url, str) and url not in links and parse_link(url, app_url) is not None:
            links.append(url)
    if not links:
        return
    channel, message_ts = event.get("channel"), event.get("message_ts")
    unfurl_id, source = event.get("unfurl_id"), event.get("source")
    in_composer = source == "composer" or channel == "COMPOSER"
    if in_composer and not (unfurl_id and source):
        raise Malformed("a composer preview without its unfurl_id")
    if not in_composer and not (isinstance(channel, str) and isinstance(message_ts, str)):
        raise Malformed("no channel or message")
    queues.enqueue_unfurl(
        services.conn,
        team=team,
        user=user,
        links=links[:MAX_LINKS],
        channel=None if in_composer else channel,
        message_ts=None if in_composer else message_ts,
        unfurl_id=unfurl_id if in_composer else None,
        source=source if in_composer else None,
    )
    log.info("event=unfurl_queued team=%s links=%d", team, len(links))
