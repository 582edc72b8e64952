"""Listeners, one folder per kind, each declaring its ``LISTENERS``; ``register_all`` wires
every one of them onto an app, inside :func:`~bot.listeners.guard.guarded`.

The table is also what the manifest test and the fuzz test read: what is declared here is
exactly what the app listens for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from slack_bolt import App

Kind = Literal["command", "action", "view", "shortcut", "event", "options", "function"]


@dataclass(frozen=True)
class Listener:
    """One registration: ``app.<kind>(constraint)(handler)``."""

    kind: Kind
    constraint: str | re.Pattern[str]
    handler: Callable[..., Any]


def all_listeners() -> list[Listener]:
    """Every listener the app registers, in registration order."""
    from bot.listeners import actions, commands, events, functions, options, shortcuts, views

    return [
        *commands.LISTENERS,
        *views.LISTENERS,
        *actions.LISTENERS,
        *shortcuts.LISTENERS,
        *events.LISTENERS,
        *functions.LISTENERS,
        *options.LISTENERS,
    ]


def register_all(app: App) -> None:
    from bot.listeners.guard import guarded

    for listener in all_listeners():
        getattr(app, listener.kind)(listener.constraint)(guarded(listener.handler))
