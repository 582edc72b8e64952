"""The App Home tab: log buttons, the user's open tasks with Complete / Snooze, recent activity.

Built in :mod:`workers.task_blocks` (the button jobs re-publish it from the workers, and
imports flow ``bot → workers``); re-exported here for the bot's listeners.
"""

from __future__ import annotations

from workers.open_tasks import build_home_for, publish_home
from workers.task_blocks import home_view

__all__ = ["build_home_for", "home_view", "publish_home"]
