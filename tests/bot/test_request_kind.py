"""Each payload Slack sends is counted under its kind (``rally_slack_requests_total``)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.server import request_kind
from core.metrics import KINDS


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/rally", "text": "help"}, "command"),
        ({"type": "block_actions", "actions": []}, "action"),
        ({"type": "view_submission", "view": {}}, "view"),
        ({"type": "view_closed", "view": {}}, "view"),
        ({"type": "shortcut", "callback_id": "x"}, "shortcut"),
        ({"type": "message_action", "callback_id": "x"}, "shortcut"),
        ({"type": "block_suggestion", "value": "ac"}, "options"),
        ({"type": "event_callback", "event": {"type": "app_home_opened"}}, "event"),
        ({"type": "url_verification", "challenge": "x"}, "event"),
        ({"type": "something_new"}, "unknown"),
        ({"type": ["block_actions"]}, "unknown"),
        ([1, 2], "unknown"),
        ("text", "unknown"),
    ],
)
def test_request_kind(body: Any, kind: str) -> None:
    assert request_kind(body) == kind
    assert kind in KINDS
