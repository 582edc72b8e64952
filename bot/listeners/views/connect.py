"""The Connect Rally and "your own key" modals, submitted.

Validated in place (an error on the right block, the rest of the form kept), then stored
encrypted and checked by a job: the key travels from Slack's request to the store and
from the store to the job, never through a job's arguments, a log line or a message.
A base URL whose host is not allowed (``RALLY_ALLOWED_HOSTS``) is refused before anything
is stored or sent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.envelope import Malformed
from bot.services import services_of
from slack_ui import ids
from workers import queues
from workers.workspace import connection_state, host_allowed

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"[\x21-\x7e]{8,200}\Z")
"""A Rally API key: 8 to 200 visible ASCII characters, no spaces."""
SAVE_FAILED = "Rally couldn't save this right now; nothing was stored. Try again in a moment."


def _value(view: dict[str, Any], block: str) -> str:
    state = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    element = state.get(ids.input_action(block)) or {}
    value = element.get("value")
    return value.strip() if isinstance(value, str) else ""


def _who(context: BoltContext) -> tuple[str, str]:
    if not context.team_id or not context.user_id:
        raise Malformed("no team or user")
    return context.team_id, context.user_id


def handle_connect_rally_submission(
    ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """An admin's Connect Rally: check the address and the key's shape, store, check."""
    team, user = _who(context)
    services = services_of(context)
    if not services.is_admin(client, team, user):
        log.warning("event=connect_refused team=%s user=%s reason=not_admin", team, user)
        ack(
            response_action="errors",
            errors={ids.RALLY_URL: "Only a workspace admin can connect Rally."},
        )
        return
    base_url, key = _value(view, ids.RALLY_URL).rstrip("/"), _value(view, ids.API_KEY)
    errors: dict[str, str] = {}
    if not host_allowed(services.settings, base_url):
        errors[ids.RALLY_URL] = (
            "Enter your Rally address, like https://acme.rallycrm.io (this app only "
            "connects to Rally hosts its operator allowed)."
        )
    if not KEY_RE.match(key):
        errors[ids.API_KEY] = "Paste the whole API key (no spaces)."
    if not services.settings.encryption_keys():
        errors[ids.API_KEY] = "This app can't keep a key safely yet (RALLY_SLACK_ENCRYPTION_KEYS)."
    if errors:
        ack(response_action="errors", errors=errors)
        return
    try:
        services.store.save_connection(team, base_url, key, by=user)
        queues.enqueue_connection_check(services.conn, team=team, user=user)
    except (SQLAlchemyError, OSError):
        ack(response_action="errors", errors={ids.API_KEY: SAVE_FAILED})
        return
    log.info("event=connection_saved team=%s user=%s", team, user)
    ack()


def handle_connect_personal_submission(
    ack: Ack, view: dict[str, Any], context: BoltContext
) -> None:
    """One's own key: store it (encrypted) and check it against the workspace's tenant."""
    team, user = _who(context)
    services = services_of(context)
    key = _value(view, ids.API_KEY)
    if not KEY_RE.match(key):
        ack(response_action="errors", errors={ids.API_KEY: "Paste the whole API key (no spaces)."})
        return
    if not connection_state(services.settings, team).connected:
        ack(
            response_action="errors",
            errors={ids.API_KEY: "Rally isn't connected for this workspace yet."},
        )
        return
    try:
        services.store.save_personal_key(team, user, key)
        queues.enqueue_personal_key_check(services.conn, team=team, user=user)
    except (SQLAlchemyError, OSError, RuntimeError):
        ack(response_action="errors", errors={ids.API_KEY: SAVE_FAILED})
        return
    log.info("event=personal_key_saved team=%s user=%s", team, user)
    ack()
