"""``/rally help``: every subcommand, the tokens, a button per modal, and a notice on top."""

from __future__ import annotations

from slack_ui import ids
from slack_ui.help import SUBCOMMANDS, TOKENS, build_help
from tests.slack_ui.checks import action_ids, block_ids, slack_json, texts


def test_help_lists_every_subcommand_and_offers_a_button_per_modal() -> None:
    msg = slack_json(build_help())

    listing, tokens = texts(msg)
    assert listing.startswith("*Rally for Slack*\n")
    assert all(f"`{example}` — {what}" in listing for example, what in SUBCOMMANDS)
    assert tokens == TOKENS
    assert block_ids(msg) == [ids.LOG_BUTTONS_BLOCK]
    assert action_ids(msg) == [ids.open_modal_action(k) for k in ids.ACTIVITY_TYPES]
    assert msg["text"].startswith("Rally for Slack: /rally call")


def test_help_for_an_unknown_subcommand_says_so_first() -> None:
    msg = slack_json(build_help(notice="I don't know `frobnicate`. Here is what `/rally` does:"))

    assert texts(msg)[0] == "I don't know `frobnicate`. Here is what `/rally` does:"
    assert len(msg["blocks"]) == len(slack_json(build_help())["blocks"]) + 1
