"""Response URLs: where the app answers a command or a click after it has acknowledged.

Slack puts a ``response_url`` in every slash command and interaction; the app POSTs a
message there (``text``/``blocks``, ``response_type``, ``replace_original``,
``delete_original``) and Slack shows it: to the person alone by default, to the channel
with ``in_channel``, or in place of the message that was clicked. A URL is honoured five
times. These rules are Slack's, separate from the Web API (no token, plain-text answers,
404 for an unknown or used-up URL), hence their own module; what they change is the
:class:`~devstack.fake_slack.messages.MessageStore`.

No locking here: :class:`~devstack.fake_slack.server.FakeSlack` holds its lock around
every call.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from devstack.fake_slack.blockkit import validate_message_blocks
from devstack.fake_slack.failures import Failures
from devstack.fake_slack.messages import MessageStore
from devstack.fake_slack.web_api import decode_json_param

# Slack honours a response URL five times (within 30 minutes).
USES_LIMIT = 5


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a response URL."""

    url_id: str
    body: dict[str, Any]
    status: int
    at: float


@dataclass
class _ResponseUrl:
    id: str
    channel: str | None
    user: str | None
    message_ts: str | None
    ephemeral: bool
    uses: int = 0


class ResponseUrls:
    """The response URLs handed out, and every POST they received.

    Args:
        messages: where the posts show up.
        failures: consulted first, so an outage takes response URLs down too.
    """

    def __init__(self, messages: MessageStore, failures: Failures) -> None:
        self._messages = messages
        self._failures = failures
        self.reset()

    def reset(self) -> None:
        """Forget every URL and every post."""
        self._urls: dict[str, _ResponseUrl] = {}
        self._posts: list[ResponsePost] = []

    def new(
        self,
        base_url: str,
        *,
        channel: str | None,
        user: str | None,
        message_ts: str | None,
        ephemeral: bool,
    ) -> str:
        """A new response URL under ``base_url`` (see ``FakeSlack.new_response_url``)."""
        url_id = secrets.token_hex(12)
        self._urls[url_id] = _ResponseUrl(url_id, channel, user, message_ts, ephemeral)
        return f"{base_url}/response/{url_id}"

    def knows(self, url_id: str) -> bool:
        """Whether ``url_id`` is one of this store's URLs."""
        return url_id in self._urls

    def post(self, url_id: str, body: dict[str, Any]) -> tuple[int, str]:
        """Accept one POST to a response URL and apply it as Slack does; status and text."""
        target = self._urls.get(url_id)
        if self._failures.in_outage():
            status, text = 503, "service_unavailable"
        elif target is None:
            status, text = 404, "expired_url"
        elif target.uses >= USES_LIMIT:
            status, text = 404, "used_url"
        else:
            target.uses += 1
            status, text = self._apply(target, body)
        self._posts.append(ResponsePost(url_id, body, status, time.time()))
        return status, text

    def posts(self, url_or_id: str | None = None) -> list[ResponsePost]:
        """POSTs received (on one URL, given its URL or id), oldest first."""
        url_id = url_or_id.rstrip("/").rsplit("/", 1)[-1] if url_or_id else None
        return [p for p in self._posts if url_id is None or p.url_id == url_id]

    def _apply(self, target: _ResponseUrl, body: dict[str, Any]) -> tuple[int, str]:
        blocks = decode_json_param(body.get("blocks"))
        if blocks is not None and validate_message_blocks(blocks):
            return 400, "invalid_blocks"
        if not body.get("text") and not blocks and not body.get("delete_original"):
            return 400, "no_text"
        messages = self._messages
        if body.get("delete_original") and target.message_ts:
            messages.delete(target.channel, target.message_ts, target.ephemeral)
            return 200, "ok"
        if body.get("replace_original") and target.message_ts:
            messages.update(
                target.channel, target.message_ts, target.ephemeral, body.get("text"), blocks
            )
            return 200, "ok"
        if target.channel is None:
            return 200, "ok"
        if body.get("response_type") == "in_channel":
            message = messages.bot_message(
                target.channel, body.get("text", ""), blocks, body.get("thread_ts")
            )
            messages.store(target.channel, message)
        else:
            messages.store_ephemeral(
                target.channel, target.user, body.get("text", ""), blocks, body.get("thread_ts")
            )
        return 200, "ok"
