"""The Deal, Company and Contact menus of every modal: what someone typed, answered from
the workspace's known records (``workers.records``), never from Rally, within Slack's 3 s.

Who may: anyone in the workspace who can open the modal; what they see is the workspace's
own names and the ids its tenant's activities are on, nothing another workspace named.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import Ack, BoltContext
from sqlalchemy.exc import SQLAlchemyError

from bot.envelope import Malformed
from bot.parsing import ParseError, parse_record_ref
from bot.services import services_of
from slack_ui.modals import RECORDS, record_option
from workers.records import LIMIT, ensure_names, suggest
from workers.workspace import workspace_credential

log = logging.getLogger(__name__)

QUERY_MAX = 300
"""The longest text read (a pasted Rally link fits; anything longer is nobody's name)."""


def handle_record_suggestion(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Answer ``block_suggestion`` for a record menu: a pasted id or link first, then the
    records whose name or id starts with what was typed, most recently active first."""
    team = context.team_id
    kind = RECORDS.get(str(body.get("block_id")))
    value = body.get("value")
    if not team or kind is None or not isinstance(value, str):
        raise Malformed("not a record menu")
    query = value.strip()[:QUERY_MAX]
    services = services_of(context)
    options = []
    pasted: str | None = None
    try:
        pasted = parse_record_ref(kind, query).id if query else None
    except ParseError:
        pasted = None
    try:
        credential = workspace_credential(services.settings, team)
        ensure_names(services.conn, services.store, team)
        found = suggest(
            services.conn,
            team=team,
            namespace=credential.namespace if credential else None,
            kind=kind,
            query=pasted or query,
        )
    except (RedisError, SQLAlchemyError):
        # Still an answer within the 3 s: a pasted id or link is offered all the same.
        log.warning("event=suggest_unavailable team=%s kind=%s", team, kind)
        found = []
    if pasted is not None:
        name = next((s.name for s in found if s.id == pasted), None)
        options.append(record_option(pasted, name))
    options += [record_option(s.id, s.name) for s in found if s.id != pasted]
    ack(options=[option.to_dict() for option in options[:LIMIT]])
