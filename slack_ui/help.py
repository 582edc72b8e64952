"""The ``/rally help`` message: every subcommand with an example, and a button per modal."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from slack_ui.kit import SlackMessage, context, section
from slack_ui.tasks import log_buttons

SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("/rally call · task · note · meeting", "open the form for that kind of activity"),
    ("/rally call Intro with Sarah for:30m outcome:connected", "log a call without a form"),
    ('/rally task Send proposal to Acme due:"tomorrow 5pm" !high', "log a task with a due date"),
    ("/rally note Pricing feedback from Acme", "log a note"),
    ('/rally meeting QBR at:"friday 2pm" for:1h', "log a meeting"),
    ("/rally tasks", "your open tasks, soonest due first"),
    (
        '/rally link deal https://app.rallycrm.io/deals/<id> "Acme expansion"',
        "bind this channel to a deal, company or contact (and name it)",
    ),
    ('/rally name deal <id> "Acme renewal"', "rename a record for everyone here"),
    ("/rally link", "show this channel's binding"),
    ("/rally unlink", "remove this channel's binding"),
    ("/rally me <rally owner id>", "log activities as your Rally user"),
    ("/rally connect · disconnect", "log with your own Rally API key, or stop"),
    ("/rally digest on 08:30", "each working day, this channel's overdue and due-today tasks"),
    ("/rally digest · digest off", "show or stop this channel's daily digest"),
)
TOKENS = (
    'Quick-create tokens: `due:<when>` `at:<when>` (quote natural language: `due:"friday 5pm"`, '
    "read in your Slack time zone), `for:30m`, `!low` `!normal` `!high` `!urgent`, `dir:in|out`, "
    "`outcome:<value>`, `done`."
)


def build_help(*, notice: str | None = None) -> SlackMessage:
    """The ephemeral help message (``text`` + ``blocks``); ``notice`` goes on top (mrkdwn)."""
    lines = "\n".join(f"`{example}` — {what}" for example, what in SUBCOMMANDS)
    blocks: list[Block] = [section(notice)] if notice else []
    blocks += [section("*Rally for Slack*\n" + lines), context(TOKENS), log_buttons()]
    return SlackMessage(
        text="Rally for Slack: /rally call, task, note, meeting, tasks, link, unlink, me, digest",
        blocks=blocks,
    )


__all__ = ["SUBCOMMANDS", "TOKENS", "build_help", "log_buttons"]
