"""``/rally`` called directly: each subcommand answers through ``ack``."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import Mock

from slack_bolt import BoltContext

from bot.listeners.commands.rally import handle_rally_command
from bot.services import Services
from slack_ui import ids
from tests.bot.listeners.conftest import CHANNEL, TEAM, USER, acked
from workers import lanes, queues

DEAL = "c8f9a0b1-2d3e-4f56-7890-abcdef123456"


def _command(text: str) -> dict[str, Any]:
    return {
        "command": "/rally",
        "text": text,
        "team_id": TEAM,
        "user_id": USER,
        "channel_id": CHANNEL,
        "trigger_id": "1.2.abc",
        "response_url": "https://hooks.slack.com/commands/T0UNIT/1/x",
    }


def test_help_lists_the_subcommands_with_a_button_per_type(
    ack: Mock, client: Mock, context: BoltContext
) -> None:
    handle_rally_command(ack=ack, command=_command("help"), client=client, context=context)
    answer = acked(ack)
    buttons = [
        e["action_id"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [ids.open_modal_action(k) for k in ids.ACTIVITY_TYPES]


def test_a_quick_create_is_queued_and_acknowledged(
    ack: Mock, client: Mock, context: BoltContext, services: Services
) -> None:
    handle_rally_command(
        ack=ack, command=_command("note Budget approved"), client=client, context=context
    )
    assert "Logging note *Budget approved*" in acked(ack)["text"]
    [job] = queues.queue(queues.ACTIVITIES, services.conn).get_jobs()
    assert job.func_name == "workers.coalesce.drain_creates"
    [create] = lanes.waiting_items(services.conn, "create")
    assert create["request"] == {"activityType": "note", "subject": "Budget approved"}


def test_a_bad_token_is_named_and_nothing_is_queued(
    ack: Mock, client: Mock, context: BoltContext, services: Services
) -> None:
    handle_rally_command(
        ack=ack, command=_command("note x !urgent"), client=client, context=context
    )
    assert "!urgent" in acked(ack)["text"]
    assert queues.queue(queues.ACTIVITIES, services.conn).count == 0
    assert lanes.waiting_items(services.conn, "create") == []


def test_a_type_alone_opens_its_modal_prefilled_with_the_channels_deal(
    ack: Mock, client: Mock, context: BoltContext, services: Services
) -> None:
    services.store.link_channel(TEAM, CHANNEL, "deal", DEAL)
    handle_rally_command(ack=ack, command=_command("task"), client=client, context=context)
    ack.assert_called_once_with()
    view = client.views_open.call_args.kwargs["view"]
    assert view["callback_id"] == ids.LOG_TASK_VIEW
    assert DEAL in json.dumps(view["blocks"])


def test_link_then_unlink(
    ack: Mock, client: Mock, context: BoltContext, services: Services
) -> None:
    handle_rally_command(
        ack=ack, command=_command(f"link deal {DEAL}"), client=client, context=context
    )
    answer = acked(ack)
    assert "<@U0ALICE> linked this channel" in answer["text"]
    assert answer["response_type"] == "in_channel"  # announced to the channel
    assert services.store.link(TEAM, CHANNEL) is not None
    ack.reset_mock()
    handle_rally_command(ack=ack, command=_command("unlink"), client=client, context=context)
    assert "unlinked this channel" in acked(ack)["text"]
    assert services.store.link(TEAM, CHANNEL) is None
