"""The reminder poster the tick calls: one task, every channel it belongs in, once each.

Where a reminder goes (deduplicated by channel):

- the channel the task was logged from, in the thread of its confirmation when that was a
  real message in that channel (an ephemeral or response-URL confirmation has no thread,
  so the reminder is posted top-level); a task logged outside any channel (App Home, a
  global shortcut) is reminded in the DM that confirmed it, if there was one;
- every channel linked to the task's deal, company or contact (``/rally link``).

Each copy posted is recorded (channel → ts, per task and due date) before the next is
tried, so a retry after a partial failure posts only the missing ones and a button can
later update every copy in place. A channel that refuses for good (bot not in it,
archived) is skipped; a transient failure makes the poster return ``False`` so the tick
releases its claim and the next tick retries the rest. When the logged-from channel
refuses and nothing else could be posted, the person who logged the task gets the
reminder as a DM instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from api_client import ActivityResponse
from core.settings import Settings
from core.store import Store
from slack_ui.kit import SlackMessage
from slack_ui.tasks import TaskCard, reminder
from workers import workspace
from workers.records import names_for, record_pairs
from workers.reminders.index import due_epoch
from workers.slack import FALLBACK_ERRORS
from workers.state import RECORD_KINDS, State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One place a reminder goes."""

    channel: str
    thread_ts: str | None = None
    why: str = "linked"


class SlackPoster:
    """``Poster`` for :func:`workers.reminders.tick`: posts a task's reminder to Slack.

    Args:
        client: Web API client with the bot token.
        conn: Redis (app state: origins, links, owner map, posted copies).
        app_url: ``RALLY_APP_URL`` for links, or ``None``.
        clock: The time the overdue mark is judged against.
    """

    def __init__(
        self,
        client: WebClient,
        conn: redis.Redis,
        store: Store,
        *,
        team: str | None,
        app_url: str | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.state = State(conn)
        self.store = store
        self.team = team
        self.app_url = app_url
        self.clock = clock
        self.posted: list[tuple[str, str, str]] = []  # (task id, channel, ts), for reports

    @classmethod
    def from_settings(
        cls, settings: Settings, conn: redis.Redis, *, team: str | None = None
    ) -> SlackPoster:
        """The poster for ``team``'s workspace (``None``: the one workspace of
        ``SLACK_BOT_TOKEN``), posting only to that workspace's channels."""
        return cls(
            workspace.slack_client(settings, team),
            conn,
            workspace.store_of(settings),
            team=team,
            app_url=settings.rally_app_url,
        )

    def targets(self, activity: ActivityResponse) -> tuple[list[Target], str | None]:
        """Where the reminder goes, and the user who logged it from Slack (if known)."""
        targets: dict[str, Target] = {}
        origin = self.state.get_origin(activity.id)
        logger = origin.user if origin else None
        if origin is not None:
            thread = None
            where = origin.channel or origin.confirmation_channel
            if where and origin.confirmation_channel == where:
                thread = origin.confirmation_ts
            if where:
                targets[where] = Target(where, thread, why="origin")
        for kind in RECORD_KINDS:
            record_id = getattr(activity, f"{kind}_id")
            if not record_id:
                continue
            for _team, channel in self.store.channels_linked_to(kind, record_id, team=self.team):
                targets.setdefault(channel, Target(channel))
        return list(targets.values()), logger

    def __call__(self, activity: ActivityResponse) -> bool:
        assert activity.due_date is not None
        due = due_epoch(activity.due_date)
        card = TaskCard.from_fields(activity.model_dump(by_alias=True, mode="json"))
        owner_user = None
        if activity.owner_id:
            mapped = self.store.user_for_owner(self.team, activity.owner_id)
            owner_user = mapped[1] if mapped else None
        names = names_for(self.store, self.team, record_pairs(card))
        message = reminder(
            card, now=self.clock(), app_url=self.app_url, owner_user=owner_user, names=names
        )
        targets, logged_by = self.targets(activity)
        already = self.state.reminder_posts(activity.id, due)
        complete = True
        refused_origin = False
        for target in targets:
            if target.channel in already:
                continue
            outcome = self._post(activity.id, due, target, message)
            if outcome == "refused" and target.why == "origin":
                refused_origin = True
            complete = complete and outcome != "retry"
        if refused_origin and logged_by and not self.state.reminder_posts(activity.id, due):
            # Logged in a channel the bot can't post to: the person who logged it hears.
            try:
                dm = self.client.conversations_open(users=[logged_by])["channel"]["id"]
            except SlackApiError as exc:
                log.warning(
                    "event=reminder_dm_failed task=%s user=%s error=%s",
                    activity.id,
                    logged_by,
                    exc.response.get("error"),
                )
                return complete
            complete = self._post(activity.id, due, Target(dm, why="dm"), message) != "retry"
        if not targets:
            log.info("event=reminder_nowhere task=%s", activity.id)
        return complete

    def _post(self, task_id: str, due: int, target: Target, message: SlackMessage) -> str:
        try:
            response = self.client.chat_postMessage(
                channel=target.channel,
                **message.to_dict(),
                thread_ts=target.thread_ts,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in FALLBACK_ERRORS:
                log.info(
                    "event=reminder_refused task=%s channel=%s error=%s",
                    task_id,
                    target.channel,
                    error,
                )
                return "refused"
            log.warning(
                "event=reminder_post_failed task=%s channel=%s error=%s",
                task_id,
                target.channel,
                error,
            )
            return "retry"
        except Exception as exc:  # connection trouble after slack_sdk's own retries
            log.warning(
                "event=reminder_post_failed task=%s channel=%s error=%s",
                task_id,
                target.channel,
                type(exc).__name__,
            )
            return "retry"
        channel, ts = str(response["channel"]), str(response["ts"])
        self.state.record_reminder_post(task_id, due, channel, ts)
        self.posted.append((task_id, channel, ts))
        log.info(
            "event=reminder_posted task=%s due=%d channel=%s ts=%s thread=%s",
            task_id,
            due,
            channel,
            ts,
            target.thread_ts or "",
        )
        return "posted"
