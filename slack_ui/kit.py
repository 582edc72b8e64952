"""The few Block Kit shapes every builder uses, and :class:`SlackMessage`.

Builders return ``slack_sdk.models`` objects: a :class:`~slack_sdk.models.views.View` for
a modal or the Home tab, a :class:`SlackMessage` for a message (slack_sdk's own
``Message`` is deprecated). ``.to_dict()`` is called at the edge, where the JSON goes to
Slack; it validates every object on the way (lengths, counts, styles) and raises
``SlackObjectFormationError`` on what Slack would refuse.

Texts given as ``str`` become what slack_sdk makes of them: ``plain_text`` (with
``emoji: true``, Slack's default) for labels, titles, buttons and headers; ``mrkdwn``
for a section's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

__all__ = [
    "MESSAGE_BLOCKS_MAX",
    "SlackMessage",
    "button",
    "context",
    "header",
    "section",
]

MESSAGE_BLOCKS_MAX: Final = 50
"""The most blocks Slack takes in one message."""


@dataclass(frozen=True)
class SlackMessage:
    """A message for ``chat.postMessage``, ``chat.update``, an ack, ``respond`` or a
    response URL: the notification ``text`` and the ``blocks`` shown.

    ``.to_dict()`` gives ``{"text", "blocks"}``, leaving ``blocks`` out when there are
    none (as slack_sdk leaves out empty attributes), so a text-only message stays one.
    """

    text: str
    blocks: Sequence[Block] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))

    def validate_json(self) -> None:
        """Raise ``SlackObjectFormationError`` unless Slack would take this message: a
        fallback text, at most :data:`MESSAGE_BLOCKS_MAX` blocks, each valid down to its
        last element."""
        self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The message as JSON for Slack, validated (see :meth:`validate_json`)."""
        if not self.text:
            raise SlackObjectFormationError("text (the notification fallback) must be set")
        if len(self.blocks) > MESSAGE_BLOCKS_MAX:
            raise SlackObjectFormationError(
                f"a message cannot have more than {MESSAGE_BLOCKS_MAX} blocks"
            )
        payload: dict[str, Any] = {"text": self.text}
        if self.blocks:
            payload["blocks"] = [block.to_dict() for block in self.blocks]
        return payload


def section(text: str, *, accessory: ButtonElement | None = None) -> SectionBlock:
    """A section of mrkdwn ``text``, with a button beside it if given."""
    return SectionBlock(text=MarkdownTextObject(text=text), accessory=accessory)


def context(text: str) -> ContextBlock:
    """A context line (small grey mrkdwn)."""
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=text)


def button(action_id: str, label: str, value: str, *, primary: bool = False) -> ButtonElement:
    """A button; ``primary`` is the one green button of its row."""
    return ButtonElement(
        action_id=action_id, text=label, value=value, style="primary" if primary else None
    )
