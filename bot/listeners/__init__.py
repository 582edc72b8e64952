"""Listeners, one folder per kind; ``register_all`` wires them onto an app."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, commands, events, shortcuts, views


def register_all(app: App) -> None:
    commands.register(app)
    views.register(app)
    actions.register(app)
    shortcuts.register(app)
    events.register(app)
