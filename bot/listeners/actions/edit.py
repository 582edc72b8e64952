"""Edit and Delete on a confirmation (SPEC §7).

Who may: whoever logged the activity (its origin, kept since it was logged) and workspace
admins; anyone else is told why not, and nothing changes. The bot only checks and queues:
Rally is read (to prefill the form) and changed by jobs (``workers.edits``). Edit opens a
"reading it from Rally" modal at once (the trigger lasts three seconds), which the job
replaces with the prefilled form.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from api_client.models import GUID_RE
from bot.envelope import Malformed
from bot.services import Services, services_of
from slack_ui.modals import build_loading
from workers import queues
from workers.slack import tell_user

log = logging.getLogger(__name__)

NOT_YOURS = (
    ":no_entry: Only the person who logged this, or a workspace admin, can {verb} it. "
    "Nothing changed."
)


def _target(action: dict[str, Any], context: BoltContext) -> tuple[str, str, str]:
    activity_id = action.get("value")
    if not isinstance(activity_id, str) or not GUID_RE.match(activity_id):
        raise Malformed("that button isn't one this app showed")
    if not context.team_id or not context.user_id:
        raise Malformed("no team or user")
    return context.team_id, context.user_id, activity_id.lower()


def may_change(
    services: Services, client: WebClient, team: str, user: str, activity_id: str
) -> bool:
    """Whether ``user`` logged the activity from Slack here, or is an admin."""
    origin = services.state.get_origin(activity_id)
    if origin is not None and (origin.team, origin.user) == (team, user):
        return True
    return services.is_admin(client, team, user)


def _where(body: dict[str, Any]) -> dict[str, Any]:
    """The confirmation clicked: its channel and ts when it is a real message, and the
    click's response URL (which can replace an ephemeral one)."""
    container = body.get("container") or {}
    real = not container.get("is_ephemeral") and container.get("message_ts")
    return {
        "channel": container.get("channel_id") if real else None,
        "message_ts": container.get("message_ts") if real else None,
        "response_url": body.get("response_url"),
    }


def handle_edit(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``activity_edit``: open the form (filled in by a job from a GET of the activity)."""
    ack()
    team, user, activity_id = _target(action, context)
    services = services_of(context)
    if not may_change(services, client, team, user, activity_id):
        log.warning("event=edit_refused team=%s user=%s activity=%s", team, user, activity_id)
        tell_user(client, body, NOT_YOURS.format(verb="edit"))
        return
    opened = client.views_open(
        trigger_id=str(body.get("trigger_id") or ""),
        view=build_loading(":hourglass_flowing_sand: Reading it from Rally…").to_dict(),
    )
    queues.enqueue_edit_form(
        services.conn,
        team=team,
        user=user,
        activity_id=activity_id,
        view_id=str(opened["view"]["id"]),
        **_where(body),
    )


def handle_delete(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``activity_delete`` (after Slack's confirm dialog): a job deletes it in Rally."""
    ack()
    team, user, activity_id = _target(action, context)
    services = services_of(context)
    if not may_change(services, client, team, user, activity_id):
        log.warning("event=delete_refused team=%s user=%s activity=%s", team, user, activity_id)
        tell_user(client, body, NOT_YOURS.format(verb="delete"))
        return
    queues.enqueue_delete(
        services.conn, team=team, user=user, activity_id=activity_id, **_where(body)
    )
