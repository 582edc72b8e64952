"""What people would see in channels: messages, thread replies, ephemerals and edits.

One store for every way a message appears, whether the bot posted it through the Web
API (``chat.postMessage``), a response URL posted it, a person typed it in the console,
or the app answered an interaction with it. Keeping them in one place is what lets
``chat.update`` and ``replace_original`` change the same message, and lets a thread
reply bump its parent's ``reply_count`` whoever posted it.

Messages are kept as Slack's own dicts, plus three keys Slack never returns (``channel``,
``user_only`` for ephemerals, ``deleted``); :meth:`MessageStore.public` strips them.

No locking here: :class:`~devstack.fake_slack.server.FakeSlack` holds its lock around
every call, and queries return deep copies so callers can keep them after it is released.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from devstack.fake_slack.blockkit import normalize_blocks
from devstack.fake_slack.failures import SlackError
from devstack.fake_slack.world import API_APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID


class MessageStore:
    """Every channel's messages (threads included) and every ephemeral message shown."""

    def __init__(self, team_id: str = TEAM_ID) -> None:
        self.team_id = team_id
        self.reset()

    def reset(self) -> None:
        """Forget every message."""
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._last_ts = 0.0

    def next_ts(self) -> str:
        """A fresh message ``ts``: the time, strictly increasing (so it orders and names)."""
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    # ------------------------------------------------------------------ writing

    def bot_message(
        self, channel: str, text: str, blocks: Any, thread_ts: str | None
    ) -> dict[str, Any]:
        """A new message from the bot, as Slack shapes it (not stored yet)."""
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": API_APP_ID,
            "text": text or "",
            "ts": self.next_ts(),
            "team": self.team_id,
            "channel": channel,
        }
        if blocks:
            message["blocks"] = normalize_blocks(blocks)
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
        return message

    def user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None
    ) -> dict[str, Any]:
        """A new message typed by a person (not stored yet)."""
        message = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": self.next_ts(),
            "team": self.team_id,
            "channel": channel,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        return message

    def store(self, channel: str, message: dict[str, Any]) -> None:
        """Add ``message`` to ``channel``; a thread reply updates its parent as Slack does."""
        msgs = self._messages.setdefault(channel, [])
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            for parent in msgs:
                if parent["ts"] == thread_ts:
                    parent["thread_ts"] = thread_ts
                    parent["reply_count"] = parent.get("reply_count", 0) + 1
                    parent["latest_reply"] = message["ts"]
        msgs.append(message)

    def store_thread(self, channel: str, messages: list[dict[str, Any]]) -> None:
        """Add a parent and its replies at once (``messages[0]`` is the parent), as
        :meth:`store` would one by one, in time linear in the thread."""
        parent, replies = messages[0], messages[1:]
        if replies:
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + len(replies)
            parent["latest_reply"] = replies[-1]["ts"]
        self._messages.setdefault(channel, []).extend(messages)

    def store_ephemeral(
        self, channel: str, user: str | None, text: str, blocks: Any, thread_ts: str | None
    ) -> dict[str, Any]:
        """Show a bot message in ``channel`` to ``user`` alone."""
        message = self.bot_message(channel, text, blocks, thread_ts)
        message["user_only"] = user
        message["is_ephemeral"] = True
        self._ephemerals.append(message)
        return message

    def find(self, channel: str | None, ts: str, ephemeral: bool) -> dict[str, Any] | None:
        """The stored message (itself, not a copy) with ``ts``, if any."""
        pool = self._ephemerals if ephemeral else self._messages.get(channel or "", [])
        for message in pool:
            if message["ts"] == ts and (channel is None or message["channel"] == channel):
                return message
        return None

    def update(
        self, channel: str | None, ts: str, ephemeral: bool, text: str | None, blocks: Any
    ) -> dict[str, Any]:
        """Replace a message's text and blocks (``chat.update``, ``replace_original``).

        Raises:
            SlackError: ``message_not_found``.
        """
        message = self.find(channel, ts, ephemeral)
        if message is None or message.get("deleted"):
            raise SlackError("message_not_found")
        message["text"] = text or ""
        if blocks is not None:
            message["blocks"] = normalize_blocks(blocks)
        else:
            message.pop("blocks", None)
        message["edited"] = {"user": BOT_USER_ID, "ts": self.next_ts()}
        return message

    def delete(self, channel: str | None, ts: str, ephemeral: bool) -> None:
        """Remove a message (``chat.delete``, ``delete_original``).

        Raises:
            SlackError: ``message_not_found``.
        """
        message = self.find(channel, ts, ephemeral)
        if message is None or message.get("deleted"):
            raise SlackError("message_not_found")
        if ephemeral:
            message["deleted"] = True
        else:
            self._messages[message["channel"]].remove(message)

    # ------------------------------------------------------------------ reading

    @staticmethod
    def public(message: dict[str, Any]) -> dict[str, Any]:
        """``message`` as the Web API returns it (without the store's own keys)."""
        return {k: v for k, v in message.items() if k not in ("channel", "user_only", "deleted")}

    def in_channel(self, channel: str, *, include_replies: bool = True) -> list[dict[str, Any]]:
        """Copies of the channel's messages, oldest first (thread replies too, by default)."""
        return [
            copy.deepcopy(m)
            for m in self._messages.get(channel, [])
            if include_replies or m.get("thread_ts") in (None, m["ts"])
        ]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Copies of the replies in one thread, oldest first (the parent excluded)."""
        return [
            copy.deepcopy(m)
            for m in self._messages.get(channel, [])
            if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ]

    def ephemerals(self, channel: str | None, user: str | None) -> list[dict[str, Any]]:
        """Copies of the ephemerals shown (in ``channel``, to ``user``), oldest first."""
        return [
            copy.deepcopy(m)
            for m in self._ephemerals
            if (channel is None or m["channel"] == channel)
            and (user is None or m["user_only"] == user)
            and not m.get("deleted")
        ]

    def history(self, channel: str) -> list[dict[str, Any]]:
        """``conversations.history``: the channel's top-level messages, newest first."""
        top = [
            self.public(m)
            for m in self._messages.get(channel, [])
            if m.get("thread_ts") in (None, m["ts"])
        ]
        return list(reversed(top))

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """``conversations.replies``: a thread's parent then its replies, oldest first."""
        return [
            self.public(m)
            for m in self._messages.get(channel, [])
            if m["ts"] == ts or m.get("thread_ts") == ts
        ]
