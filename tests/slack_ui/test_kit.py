"""SlackMessage and the shared block shapes: the JSON at the edge, and what it refuses."""

from __future__ import annotations

import dataclasses

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import ActionsBlock

from slack_ui.kit import MESSAGE_BLOCKS_MAX, SlackMessage, button, context, section
from tests.slack_ui.checks import slack_json


def test_a_message_is_its_text_and_its_blocks_as_dicts() -> None:
    message = SlackMessage(text="Logged note", blocks=[section("*Done*"), context("On deal")])
    assert slack_json(message) == {
        "text": "Logged note",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Done*"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "On deal"}]},
        ],
    }


def test_a_text_only_message_sends_no_blocks_key() -> None:
    assert slack_json(SlackMessage(text="Only words")) == {"text": "Only words"}


def test_a_message_is_frozen_and_keeps_its_blocks_as_given() -> None:
    blocks = [section("one")]
    message = SlackMessage(text="t", blocks=blocks)
    blocks.append(section("two"))
    assert len(message.blocks) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]


def test_a_message_without_fallback_text_is_refused() -> None:
    with pytest.raises(SlackObjectFormationError):
        SlackMessage(text="", blocks=[section("x")]).validate_json()


def test_a_message_over_slacks_block_limit_is_refused() -> None:
    too_many = [section(str(i)) for i in range(MESSAGE_BLOCKS_MAX + 1)]
    with pytest.raises(SlackObjectFormationError):
        SlackMessage(text="t", blocks=too_many).to_dict()


def test_an_invalid_element_deep_in_a_message_is_refused_at_the_edge() -> None:
    long_label = button("a", "x" * 76, "v")
    with pytest.raises(SlackObjectFormationError):
        SlackMessage(text="t", blocks=[ActionsBlock(elements=[long_label])]).validate_json()


def test_a_primary_button_is_styled_and_a_plain_one_is_not() -> None:
    assert button("go", "Go", "1", primary=True).to_dict()["style"] == "primary"
    assert "style" not in button("go", "Go", "1").to_dict()


def test_a_section_can_carry_a_button_beside_its_text() -> None:
    block = section("Retry?", accessory=button("retry", "Retry", "s1")).to_dict()
    assert block["accessory"]["action_id"] == "retry" and block["text"]["text"] == "Retry?"
