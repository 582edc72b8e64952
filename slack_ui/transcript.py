"""A Slack thread as plain text: what "Log thread as note" puts in the note's body.

Two pure steps, no Slack calls (the job in ``workers.threads`` fetches and resolves):

- :func:`mrkdwn_to_plain` turns one message's wire text into what a reader of the note
  should see: ``<@U…>`` and ``<#C…|…>`` as names (through the resolvers it is given),
  ``<url|label>`` as ``label (url)``, ``<url>`` as the URL, Slack's ``&amp;`` ``&lt;``
  ``&gt;`` unescaped, and the ``*bold*`` ``_italic_`` ``~strike~`` marks dropped. Code
  (`` `x` `` and ```` ``` ````) is kept as typed: marks inside it are the code's own.
- :func:`build_transcript` lays the messages out under the parent's permalink and cuts
  at a message boundary when the whole would pass the API's body limit, ending with a
  line that says how many messages were left out.

No library does the first for Slack's mrkdwn (the ones on PyPI go from Markdown *to*
mrkdwn); it is one tokenizer and three linear regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from api_client.models import BODY_MAX

Resolve = Callable[[str], str | None]
"""An id (``U…`` or ``C…``) to its name, or ``None`` when unknown."""

# Code first (its content is literal), then Slack's <target|label> markup.
_TOKEN_RE: Final = re.compile(r"```.*?```|`[^`\n]+`|<([^<>|]*)(?:\|([^<>]*))?>", re.S)
_ENTITY_RE: Final = re.compile(r"&(amp|lt|gt);")
_ENTITIES: Final = {"amp": "&", "lt": "<", "gt": ">"}
_URL_SCHEME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BROADCASTS: Final = {"!here": "@here", "!channel": "@channel", "!everyone": "@everyone"}
# A placeholder for each token while the marks are dropped: private-use characters, no
# space, no mark, so "*see <url|this>*" is still one bold run around it.
_HOLE: Final = "\ue000"
_HOLE_END: Final = "\ue001"
_HOLE_RE: Final = re.compile(f"{_HOLE}(\\d+){_HOLE_END}")
# A mark opens before a non-space and closes after one, on one line, not inside a word:
# "snake_case_name" and "2*3*4" are left alone. Each scan stops at the next mark or line
# end, so the work stays linear in the text.
_MARK_RES: Final = tuple(
    re.compile(rf"(?<![\w{m}])\{m}(?=[^\s{m}])([^{m}\n]*?[^\s{m}])\{m}(?![\w{m}])") for m in "*_~"
)


def unescape(text: str) -> str:
    """Slack's three entities, in one pass (``&amp;lt;`` stays the ``&lt;`` that was typed)."""
    return _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(1)], text)


def _markup(target: str, label: str | None, users: Resolve, channels: Resolve) -> str:
    label = unescape(label) if label else None
    if target.startswith("@"):
        name = users(target[1:])
        return "@" + (name or (label or target[1:]).lstrip("@"))
    if target.startswith("#"):
        name = channels(target[1:])
        return "#" + (name or (label or target[1:]).lstrip("#"))
    if target.startswith("!"):
        if target in _BROADCASTS:
            return _BROADCASTS[target]
        # <!subteam^S1|@sales>, <!date^…|fallback>: the label is what people saw.
        return label or target[1:].split("^", 1)[0]
    url = unescape(target)
    if _URL_SCHEME_RE.match(url):
        if not label or label == url:
            return url
        if url.startswith("mailto:") and label == url.removeprefix("mailto:"):
            return label
        return f"{label} ({url})"
    return label or url


def mrkdwn_to_plain(text: str, *, users: Resolve, channels: Resolve) -> str:
    """One message's mrkdwn as plain text (see the module docstring).

    Args:
        text: The message's ``text`` as Slack returns it.
        users: A user id to a name (``None``: keep the label, else the id).
        channels: A channel id to a name (likewise).
    """
    pieces: list[str] = []

    def hold(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("`"):
            pieces.append(unescape(token))
        else:
            pieces.append(_markup(match.group(1), match.group(2), users, channels))
        return f"{_HOLE}{len(pieces) - 1}{_HOLE_END}"

    held = _TOKEN_RE.sub(hold, text.replace(_HOLE, "").replace(_HOLE_END, ""))
    for mark_re in _MARK_RES:
        held = mark_re.sub(r"\1", held)
    held = unescape(held)
    return _HOLE_RE.sub(lambda m: pieces[int(m.group(1))], held)


@dataclass(frozen=True)
class Line:
    """One message of the thread, ready to print: who, when (already formatted), what."""

    name: str
    when: str
    text: str

    def render(self) -> str:
        return f"{self.name} ({self.when}): {self.text}"


@dataclass(frozen=True)
class Transcript:
    """The note's body, and how many of the thread's messages it holds or left out."""

    body: str
    included: int
    omitted: int


def omitted_line(count: int, limit: int) -> str:
    """The last line of a cut transcript."""
    noun = "message was" if count == 1 else "messages were"
    return f"[{count:,} more {noun} left out: a note holds at most {limit:,} characters]"


def build_transcript(header: str, lines: Sequence[Line], *, limit: int = BODY_MAX) -> Transcript:
    """``header`` (the permalink line), a blank line, then one entry per message.

    Cut at a message boundary when the whole would be longer than ``limit`` characters
    (the API counts characters, as Python does); the last line then says how many were
    left out. A first message longer than the limit on its own is cut inside, so the
    note always holds the beginning of the thread.
    """
    parts = [header.rstrip(), ""]
    entries = [line.render() for line in lines]
    whole = "\n".join([*parts, *entries])
    if len(whole) <= limit:
        return Transcript(whole, len(entries), 0)
    size = len(parts[0]) + 1
    # Room for the longest "left out" line this thread could need.
    reserve = len(omitted_line(len(entries), limit)) + 1
    kept = 0
    for entry in entries:
        room = limit - size - 1 - reserve
        if len(entry) > room:
            if kept == 0:
                parts.append(entry[: max(room - 1, 0)] + "…")
                kept = 1
            break
        parts.append(entry)
        size += len(entry) + 1
        kept += 1
    omitted = len(entries) - kept
    parts.append(omitted_line(omitted, limit))
    return Transcript("\n".join(parts), kept, omitted)
