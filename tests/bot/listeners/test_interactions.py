"""Modal submissions, buttons, shortcuts and events, each listener called directly."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import Mock

import pytest
from slack_bolt import Ack, BoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.envelope import Malformed
from bot.listeners.actions.modals import handle_edit_and_retry, handle_open_modal
from bot.listeners.actions.tasks import handle_task_action
from bot.listeners.events.app_home import handle_app_home_opened
from bot.listeners.guard import guarded
from bot.listeners.shortcuts.log import handle_log_activity, handle_log_as_note
from bot.listeners.views.log_activity import handle_log_submission
from bot.services import Services
from slack_ui import ids
from slack_ui.modals import build_log_modal
from tests.bot.listeners.conftest import CHANNEL, TEAM, USER, acked
from workers import lanes, queues
from workers.state import Submission

TASK = "5a1c0de0-ac3e-4d3a-9e55-000000000001"


def _view(kind: str, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    view = build_log_modal(kind, metadata={"channel": CHANNEL}).to_dict()
    return {**view, "id": "V1", "hash": "1.a", "state": {"values": values}}


def _text(block: str, value: Any) -> dict[str, dict[str, Any]]:
    return {block: {ids.input_action(block): {"type": "plain_text_input", "value": value}}}


def test_a_valid_submission_is_queued_and_closes_the_modal(
    ack: Mock, context: BoltContext, services: Services
) -> None:
    handle_log_submission(
        ack=ack, view=_view("note", _text(ids.SUBJECT, "Kickoff")), context=context
    )
    ack.assert_called_once_with()
    [job] = queues.queue(queues.ACTIVITIES, services.conn).get_jobs()
    assert job.func_name == "workers.coalesce.drain_creates"
    [create] = lanes.waiting_items(services.conn, "create")
    assert create["request"]["subject"] == "Kickoff"


@pytest.mark.parametrize("subject", [None, "   ", "\u200b", 7])
def test_an_empty_or_odd_subject_keeps_the_modal_open_on_the_subject(
    ack: Mock, context: BoltContext, services: Services, subject: Any
) -> None:
    handle_log_submission(ack=ack, view=_view("note", _text(ids.SUBJECT, subject)), context=context)
    answer = acked(ack)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {ids.SUBJECT}
    assert queues.queue(queues.ACTIVITIES, services.conn).count == 0
    assert lanes.waiting_items(services.conn, "create") == []


def test_an_open_modal_button_opens_the_type_it_names_in_its_action_id(
    ack: Mock, client: Mock, context: BoltContext
) -> None:
    body = {"trigger_id": "1.2.x", "response_url": None}
    action = {"action_id": ids.open_modal_action("meeting"), "value": "note"}  # value ignored
    handle_open_modal(ack=ack, body=body, action=action, client=client, context=context)
    assert client.views_open.call_args.kwargs["view"]["callback_id"] == ids.LOG_MEETING_VIEW


def test_a_task_button_with_a_value_the_app_never_wrote_is_refused(
    ack: Mock, client: Mock, context: BoltContext, services: Services
) -> None:
    with pytest.raises(Malformed):
        handle_task_action(
            ack=ack,
            body={},
            action={"action_id": ids.TASK_ACTION_IDS[0], "value": "x" * 5000},
            client=client,
            context=context,
        )
    assert queues.queue(queues.ACTIONS, services.conn).count == 0


def test_a_task_button_is_queued_on_the_actions_queue(
    ack: Mock, client: Mock, context: BoltContext, services: Services
) -> None:
    body = {"container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1.5"}}
    handle_task_action(
        ack=ack,
        body=body,
        action={"action_id": ids.TASK_ACTION_IDS[0], "value": f"{TASK}:1900000000"},
        client=client,
        context=context,
    )
    [job] = queues.queue(queues.ACTIONS, services.conn).get_jobs()
    assert (job.kwargs["task_id"], job.kwargs["surface"], job.kwargs["message_ts"]) == (
        TASK,
        "message",
        "1.5",
    )


def test_edit_and_retry_is_only_for_the_submitter(
    ack: Mock, client: Mock, context: BoltContext, services: Services
) -> None:
    submission = Submission("a" * 32, "note", TEAM, "U0SOMEONEELSE", CHANNEL, {"subject": "Theirs"})
    services.state.save_submission(submission)
    body = {"trigger_id": "1.2.x", "user": {"id": USER}, "channel": {"id": CHANNEL}}
    handle_edit_and_retry(
        ack=ack, body=body, action={"value": "a" * 32}, client=client, context=context
    )
    client.views_open.assert_not_called()
    assert "Only the person who submitted this" in json.dumps(client.mock_calls[-1].kwargs)


def test_the_log_activity_shortcut_opens_the_type_chooser(ack: Mock, client: Mock) -> None:
    handle_log_activity(ack=ack, shortcut={"trigger_id": "1.2.x"}, client=client)
    assert client.views_open.call_args.kwargs["view"]["callback_id"] == ids.CHOOSE_TYPE_VIEW


def test_log_as_note_prefills_the_message_and_its_permalink(
    ack: Mock, client: Mock, context: BoltContext
) -> None:
    shortcut = {"trigger_id": "1.2.x", "message": {"ts": "1.1", "text": "Acme &amp; co said yes"}}
    handle_log_as_note(ack=ack, shortcut=shortcut, client=client, context=context)
    view = client.views_open.call_args.kwargs["view"]
    shown = json.dumps(view["blocks"])
    assert "Acme & co said yes" in shown and "https://slack.test/archives" in shown


def test_app_home_is_published_for_the_user_who_opened_it(
    client: Mock, context: BoltContext
) -> None:
    handle_app_home_opened(
        event={"type": "app_home_opened", "user": USER, "tab": "home"},
        client=client,
        context=context,
    )
    assert client.views_publish.call_args.kwargs["user_id"] == USER


# -- the guard --------------------------------------------------------------------------


def _args(**values: Any) -> Mock:
    args = Mock()
    args.ack = Mock(Ack)
    args.ack.response = None
    for name, value in values.items():
        setattr(args, name, value)
    return args


def test_the_guard_acknowledges_and_tells_when_a_listener_refuses(client: Mock) -> None:
    def refuses(ack: Ack) -> None:
        raise Malformed("that button isn't one this app showed")

    args = _args(client=client, body={"user": {"id": USER}, "channel": {"id": CHANNEL}})
    guarded(refuses)(args)
    args.ack.assert_called_once_with()
    told = client.chat_postEphemeral.call_args.kwargs
    assert told["user"] == USER and "isn't one this app showed" in told["text"]


def test_the_guard_keeps_a_modal_open_when_a_submission_handler_fails(client: Mock) -> None:
    def breaks(ack: Ack) -> None:
        raise RuntimeError("a bug")

    view = build_log_modal("note").to_dict()
    args = _args(
        client=client, body={"type": "view_submission", "user": {"id": USER}, "view": view}
    )
    guarded(breaks)(args)
    assert args.ack.call_args.kwargs["response_action"] == "errors"
    assert ids.SUBJECT in args.ack.call_args.kwargs["errors"]


def test_the_guard_tells_slacks_refusal_after_the_acknowledgement(client: Mock) -> None:
    def opens(ack: Ack) -> None:
        ack()
        ack.response = object()
        raise SlackApiError(
            "no",
            SlackResponse(
                client=None,
                http_verb="POST",
                api_url="",
                req_args={},
                data={"ok": False, "error": "expired_trigger_id"},
                headers={},
                status_code=200,
            ),
        )  # type: ignore[arg-type]

    args = _args(client=client, body={"user": {"id": USER}, "channel": {"id": CHANNEL}})
    guarded(opens)(args)
    assert "expired_trigger_id" in client.chat_postEphemeral.call_args.kwargs["text"]
