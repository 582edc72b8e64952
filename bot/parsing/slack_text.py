"""Slack's wire form of typed text (escapes, ``<target|label>`` markup), undone."""

from __future__ import annotations

import re
from typing import Final

# --------------------------------------------------------------------------- Slack text

# Slack sends message-ish text with &, < and > escaped, and (when the app asks for it)
# links and mentions as <target|label>. Only these forms are markup; anything else in
# angle brackets arrived escaped, so a bare "<" here is never the user's.
_SLACK_MARKUP_RE: Final = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SLACK_ENTITY_RE: Final = re.compile(r"&(amp|lt|gt);")
_SLACK_ENTITIES: Final = {"amp": "&", "lt": "<", "gt": ">"}
URL_SCHEME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BROADCASTS: Final = {"!here": "@here", "!channel": "@channel", "!everyone": "@everyone"}


def _unmark(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        # A user or channel mention: its label is what the person saw and typed.
        return f"{target[0]}{label.lstrip('@#')}" if label else match.group(0)
    if target.startswith("!"):
        if target in _BROADCASTS:
            return _BROADCASTS[target]
        return label if label else match.group(0)
    if URL_SCHEME_RE.match(target):
        return label if label else target
    return match.group(0)


def unescape_slack(text: str) -> str:
    """Turn Slack's wire form of typed text back into what the person typed.

    ``<https://x.io|x.io>`` becomes ``x.io``, ``<https://x.io>`` becomes the URL,
    ``<@U123|dana>`` becomes ``@dana``, ``<!here>`` becomes ``@here``, and the
    entities ``&amp;`` ``&lt;`` ``&gt;`` become ``&`` ``<`` ``>`` (in one pass, so
    ``&amp;lt;`` stays the literal ``&lt;`` that was typed).

    Args:
        text: Text as Slack delivered it (slash command ``text``, message text).

    Returns:
        The plain text.
    """
    text = _SLACK_MARKUP_RE.sub(_unmark, text)
    return _SLACK_ENTITY_RE.sub(lambda m: _SLACK_ENTITIES[m.group(1)], text)
