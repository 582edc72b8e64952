"""Modals and App Home tabs: the views a person has open, and the triggers that open them.

Slack keeps, per person, a *stack* of at most three modals (``views.open`` starts one,
``views.push`` and a ``push`` response action add one, Back or a plain submission pops
one), plus one Home tab per person (``views.publish``). A modal can only be opened with
a ``trigger_id`` Slack handed out in an interaction, once; this store hands those out
(:meth:`ViewStore.new_trigger_id`) and remembers whose they were, which is how a modal
lands on the right person's stack.

A view is stored as Slack returns it (id, hash, root and previous view ids, the blocks
with the ids Slack fills in), and may carry two keys of the console's own: ``_errors``
(from an ``errors`` response action) and ``_problem``.

No locking here: :class:`~devstack.fake_slack.server.FakeSlack` holds its lock around
every call, and queries return deep copies.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from devstack.fake_slack.blockkit import normalize_blocks, validate_view
from devstack.fake_slack.failures import SlackError
from devstack.fake_slack.world import API_APP_ID, BOT_ID, TEAM_ID

# Slack keeps at most three modals in a stack; pushing a fourth is ``push_limit_reached``.
PUSH_LIMIT = 3


def _new_view_id() -> str:
    return "V" + secrets.token_hex(5).upper()


class ViewStore:
    """Every view opened, each person's modal stack and Home tab, and the trigger ids."""

    def __init__(self, team_id: str = TEAM_ID) -> None:
        self.team_id = team_id
        self.reset()

    def reset(self) -> None:
        """Close every view and forget every trigger."""
        # Every modal by id, in its current state (the console edits it in place), and
        # whose stack it went on (None: opened with a trigger this fake did not issue).
        self.by_id: dict[str, dict[str, Any]] = {}
        self.owner: dict[str, str | None] = {}
        self._stacks: dict[str | None, list[str]] = {}
        self._homes: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, tuple[str | None, float, bool]] = {}
        self._opened: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ triggers

    def new_trigger_id(self, user: str | None) -> str:
        """A trigger id as Slack puts in interactions; a modal opened with it is ``user``'s."""
        trigger = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self._triggers[trigger] = (user, time.time(), False)
        return trigger

    def take_trigger(self, trigger_id: str | None) -> str | None:
        """Use up ``trigger_id``; whose it was (``None`` for one this fake did not issue).

        Raises:
            SlackError: ``invalid_arguments`` when missing, ``exchanged_trigger_id`` when
                already used.
        """
        if not trigger_id:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        known = self._triggers.get(trigger_id)
        if known is None:
            return None
        user, issued, used = known
        if used:
            raise SlackError("exchanged_trigger_id")
        self._triggers[trigger_id] = (user, issued, True)
        return user

    # ------------------------------------------------------------------ modals

    def open(self, view: dict[str, Any], user: str | None) -> dict[str, Any]:
        """``views.open``: ``view`` becomes the only modal on ``user``'s stack."""
        return self._new(view, user, push=False)

    def push(self, view: dict[str, Any], user: str | None) -> dict[str, Any]:
        """``views.push``: ``view`` goes on top of ``user``'s stack.

        Raises:
            SlackError: ``push_limit_reached`` when the stack is full.
        """
        if len(self._stacks.get(user, [])) >= PUSH_LIMIT:
            raise SlackError("push_limit_reached")
        return self._new(view, user, push=True)

    def update(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None,
        external_id: str | None,
        hash: str | None,
    ) -> dict[str, Any]:
        """``views.update``: replace the modal named by ``view_id`` (or ``external_id``).

        Raises:
            SlackError: ``not_found``, or ``hash_conflict`` when ``hash`` is stale.
        """
        if not view_id and external_id:
            view_id = next(
                (v for v, full in self.by_id.items() if full.get("external_id") == external_id),
                None,
            )
        if not view_id or view_id not in self.by_id:
            raise SlackError("not_found")
        if hash and hash != self.by_id[view_id]["hash"]:
            raise SlackError("hash_conflict")
        return self._replace(view_id, view)

    def close_all(self, user: str | None) -> None:
        """Close every modal of ``user``."""
        self._stacks.pop(user, None)

    def pop(self, user: str | None) -> None:
        """Close the top modal of ``user``."""
        stack = self._stacks.get(user, [])
        if stack:
            stack.pop()
        if not stack:
            self._stacks.pop(user, None)

    def apply_response_action(
        self, user: str | None, view_id: str, answer: dict[str, Any] | None
    ) -> list[str]:
        """Apply the bot's answer to a ``view_submission``; Slack's errors if it was invalid.

        An invalid answer changes nothing (the modal stays as it was).
        """
        action = (answer or {}).get("response_action")
        stack = self._stacks.get(user, [])
        if action == "errors":
            view = self.by_id.get(view_id)
            if view is not None:
                view["_errors"] = dict(answer.get("errors") or {})  # type: ignore[union-attr]
            return []
        if action in ("update", "push"):
            new_view = (answer or {}).get("view")
            problems = validate_view(new_view)
            if problems:
                return problems
            if action == "update":
                self._replace(view_id, new_view)  # type: ignore[arg-type]
            else:
                if len(stack) >= PUSH_LIMIT:
                    return ["push_limit_reached"]
                self._new(new_view, user, push=True)  # type: ignore[arg-type]
            return []
        if action == "clear":
            self._stacks.pop(user, None)
        elif stack and stack[-1] == view_id:
            stack.pop()
            if not stack:
                self._stacks.pop(user, None)
        return []

    # ------------------------------------------------------------------ home tabs

    def publish_home(self, user: str, view: dict[str, Any], *, hash: str | None) -> dict[str, Any]:
        """``views.publish``: ``view`` becomes ``user``'s Home tab (same id as before).

        Raises:
            SlackError: ``hash_conflict`` when ``hash`` is stale.
        """
        old = self._homes.get(user)
        if hash and old and hash != old["hash"]:
            raise SlackError("hash_conflict")
        view_id = old["id"] if old else _new_view_id()
        full = _full_view(
            view, view_id, root_view_id=view_id, previous_view_id=None, team_id=self.team_id
        )
        self._homes[user] = full
        return full

    # ------------------------------------------------------------------ reading

    def opened(self) -> list[dict[str, Any]]:
        """Copies of every view opened or pushed, as Slack returned it, oldest first."""
        return copy.deepcopy(self._opened)

    def get(self, view_id: str) -> dict[str, Any]:
        """A copy of the current state of a modal."""
        return copy.deepcopy(self.by_id[view_id])

    def stack(self, user: str | None) -> list[dict[str, Any]]:
        """Copies of the modals open for ``user``, bottom first."""
        return [copy.deepcopy(self.by_id[v]) for v in self._stacks.get(user, [])]

    def home(self, user: str) -> dict[str, Any] | None:
        """A copy of ``user``'s Home tab, if one was published."""
        view = self._homes.get(user)
        return copy.deepcopy(view) if view else None

    # ------------------------------------------------------------------ the views themselves

    def _new(self, view: dict[str, Any], user: str | None, *, push: bool) -> dict[str, Any]:
        view_id = _new_view_id()
        stack = self._stacks.setdefault(user, []) if push else []
        root = stack[0] if stack else view_id
        previous = stack[-1] if stack else None
        full = _full_view(
            view, view_id, root_view_id=root, previous_view_id=previous, team_id=self.team_id
        )
        self.by_id[view_id] = full
        self.owner[view_id] = user
        if push:
            stack.append(view_id)
        else:
            self._stacks[user] = [view_id]
        self._opened.append(copy.deepcopy(full))
        return full

    def _replace(self, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        old = self.by_id[view_id]
        full = _full_view(
            view,
            view_id,
            root_view_id=old.get("root_view_id"),
            previous_view_id=old.get("previous_view_id"),
            team_id=self.team_id,
        )
        self.by_id[view_id] = full
        return full


def _full_view(
    view: dict[str, Any],
    view_id: str,
    *,
    root_view_id: str | None,
    previous_view_id: str | None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """``view`` as Slack returns it: with its ids, a fresh hash, and empty state."""
    return {
        "id": view_id,
        "team_id": team_id,
        "type": view.get("type", "modal"),
        "blocks": normalize_blocks(view.get("blocks") or []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": view.get("title"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": previous_view_id,
        "root_view_id": root_view_id,
        "app_id": API_APP_ID,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
