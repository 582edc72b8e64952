"""What every grammar shares: the errors it raises, the usage lines it quotes."""

from __future__ import annotations

from typing import Final

USAGE: Final[dict[str, str]] = {
    "call": "/rally call [subject dir:in|out outcome:connected for:15m at:<when> done]",
    "task": '/rally task [subject due:"friday 5pm" !low|!normal|!high|!urgent done]',
    "note": "/rally note [subject at:<when>]",
    "meeting": '/rally meeting [subject at:"tuesday 3pm" for:45m]',
    "tasks": "/rally tasks",
    "link": '/rally link deal|company|contact <id or Rally URL> ["name"]',
    "name": '/rally name deal|company|contact <id or Rally URL> "name"',
    "unlink": "/rally unlink",
    "me": "/rally me <your Rally owner id>",
    "connect": "/rally connect",
    "disconnect": "/rally disconnect",
    "digest": "/rally digest on [HH:MM] | off",
    "help": "/rally help",
}
"""One usage line per subcommand, for help text and error replies."""


class ParseError(ValueError):
    """Text a person typed could not be read; ``str(error)`` is a message for them."""


class QuickCreateError(ParseError):
    """Quick-create text had one or more problems, each a message naming its token."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class RecordRefError(ParseError):
    """A ``/rally link`` target was not a usable deal, company or contact reference."""


def clip(text: str, limit: int = 80) -> str:
    """Keep echoed user text short in messages."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
