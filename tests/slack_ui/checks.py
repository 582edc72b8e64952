"""How the builders' unit tests look at what they built.

:func:`slack_json` is the edge a builder's output goes through (``.to_dict()``), checked
twice: by slack_sdk's own validators (``validate_json()`` on the view or message, which
``to_dict()`` repeats on every block, element and text inside it) and by the fake
Slack's Block Kit checks, which add what slack_sdk does not look at (unique block_ids,
a submit button beside inputs, no input blocks in a message).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_sdk.models.views import View

from devstack.fake_slack.blockkit import validate_message_blocks, validate_view
from slack_ui.kit import SlackMessage


def slack_json(built: View | SlackMessage) -> dict[str, Any]:
    """``built`` as the JSON that goes to Slack, after both validations pass."""
    built.validate_json()
    payload = built.to_dict()
    if isinstance(built, View):
        problems = validate_view(payload)
    else:
        problems = validate_message_blocks(payload.get("blocks", []))
    assert not problems, problems
    return payload


def elements(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every interactive element of a view or message: action rows, accessories, inputs."""
    for block in payload.get("blocks", []):
        yield from block.get("elements", []) if block["type"] == "actions" else []
        if "accessory" in block:
            yield block["accessory"]
        if "element" in block:
            yield block["element"]


def action_ids(payload: dict[str, Any]) -> list[str]:
    return [element["action_id"] for element in elements(payload)]


def block_ids(payload: dict[str, Any]) -> list[str]:
    return [block["block_id"] for block in payload.get("blocks", []) if "block_id" in block]


def texts(payload: dict[str, Any]) -> list[str]:
    """The mrkdwn of every section and context line, in order."""
    found = []
    for block in payload.get("blocks", []):
        if block["type"] == "section":
            found.append(block["text"]["text"])
        elif block["type"] == "context":
            found += [element["text"] for element in block["elements"]]
    return found
