"""App Home's set-up buttons: Connect Rally (admins), your own key, the owner-id setting.

Who may: connecting the workspace and the setting are for admins (Slack's ``is_admin`` /
``is_owner``, asked again here, never trusted from the button); one's own key is for
anyone once the workspace is connected.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.envelope import Malformed
from bot.services import services_of
from slack_ui.modals import build_connect_personal, build_connect_rally
from workers.open_tasks import publish_home
from workers.slack import tell_user
from workers.workspace import connection_state

log = logging.getLogger(__name__)

ADMINS_ONLY = ":no_entry: Only a workspace admin can do that, so nothing changed."


def _who(context: BoltContext) -> tuple[str, str]:
    if not context.team_id or not context.user_id:
        raise Malformed("no team or user")
    return context.team_id, context.user_id


def handle_connect_rally(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``connect_rally_open``: the Connect Rally modal, for admins."""
    ack()
    team, user = _who(context)
    services = services_of(context)
    if not services.is_admin(client, team, user):
        log.warning("event=connect_refused team=%s user=%s reason=not_admin", team, user)
        tell_user(client, body, ADMINS_ONLY)
        return
    current = services.store.connection(team) if services.settings.encryption_keys() else None
    client.views_open(
        trigger_id=str(body.get("trigger_id") or ""),
        view=build_connect_rally(base_url=current.base_url if current else None).to_dict(),
    )


def handle_connect_personal(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``connect_personal_open``: the form for one's own key."""
    ack()
    team, _user = _who(context)
    if not connection_state(services_of(context).settings, team).connected:
        tell_user(client, body, "Rally isn't connected for this workspace yet.")
        return
    client.views_open(
        trigger_id=str(body.get("trigger_id") or ""), view=build_connect_personal().to_dict()
    )


def handle_owner_self_service(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``owner_self_service``: admins let people choose their owner id, or stop them."""
    ack()
    team, user = _who(context)
    services = services_of(context)
    value = action.get("value")
    if value not in ("on", "off"):
        raise Malformed("not a setting")
    if not services.is_admin(client, team, user):
        log.warning("event=setting_refused team=%s user=%s", team, user)
        tell_user(client, body, ADMINS_ONLY)
        return
    services.store.set_owner_self_service(team, value == "on")
    services.store.audit(team, user, "owner_self_service", surface="home", allowed=value == "on")
    publish_home(client, services.conn, services.settings, team=team, user=user)
