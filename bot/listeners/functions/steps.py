"""``function_executed`` for the app's Workflow Builder steps: queue the step, return.

Bolt acknowledges the event before this runs (Slack allows 3 seconds, and a step may take
longer than that: the job ends it, see :mod:`workers.steps`). The step's token is kept
encrypted for the job, never put in its arguments.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext

from bot.envelope import Malformed
from bot.services import services_of
from workers import queues
from workers.steps import keep_token

log = logging.getLogger(__name__)


def handle_step(event: dict[str, Any], context: BoltContext) -> None:
    """Queue the step's job, once per execution."""
    execution_id = event.get("function_execution_id")
    callback_id = (event.get("function") or {}).get("callback_id")
    inputs = event.get("inputs") or {}
    if not isinstance(execution_id, str) or not isinstance(callback_id, str) or not context.team_id:
        raise Malformed("no execution, step or team")
    if not isinstance(inputs, dict):
        raise Malformed("the inputs are not an object")
    services = services_of(context)
    keep_token(
        services.conn, services.settings, execution_id, str(event.get("bot_access_token") or "")
    )
    queued = queues.enqueue_step(
        services.conn,
        execution_id=execution_id,
        callback_id=callback_id,
        team=context.team_id,
        inputs=inputs,
    )
    log.info("event=step_received execution=%s step=%s new=%s", execution_id, callback_id, queued)
