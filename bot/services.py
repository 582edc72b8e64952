"""What listeners need besides the Slack request: settings, state, the queue, time zones.

One ``Services`` is built per app and handed to every listener in Bolt's ``context``
(``context["rally"]``), so a handler stays a plain function a test can call directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
from slack_sdk import WebClient

from core.redis import request_path_redis
from core.settings import Settings
from core.store import Store
from workers import queues
from workers.slack import is_admin, user_tz, web_client
from workers.state import State, Submission
from workers.workspace import store_of

log = logging.getLogger(__name__)

CONTEXT_KEY = "rally"
# users.info inside a 3-second request: answer in time with UTC rather than late.
TZ_LOOKUP_TIMEOUT_S = 1


class QueueUnavailable(Exception):
    """Redis could not take the submission; nothing was queued."""


def submission_id_for_view(view: dict[str, Any]) -> str:
    """Same view, state hash and entered values → same id: a re-delivered or double-clicked
    submit is one submission, while a resubmission with edited fields is a new one."""
    values = json.dumps((view.get("state") or {}).get("values") or {}, sort_keys=True)
    return _digest("view", str(view.get("id")), str(view.get("hash")), values)


def submission_id_for_command(team: str, user: str, text: str, trigger_id: str) -> str:
    """A slash command's identity: a re-delivery has the same trigger_id and text."""
    return _digest("cmd", team, user, text, trigger_id)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass
class Services:
    """Settings, the store and the clients shared by the listeners of one app."""

    settings: Settings
    conn: redis.Redis
    store: Store

    @classmethod
    def from_settings(
        cls, settings: Settings, *, conn: redis.Redis | None = None, store: Store | None = None
    ) -> Services:
        return cls(
            settings=settings,
            conn=conn if conn is not None else request_path_redis(settings.redis_url),
            store=store if store is not None else store_of(settings),
        )

    @property
    def state(self) -> State:
        return State(self.conn)

    def quick(self, client: WebClient) -> WebClient:
        """``client``'s team token on a short leash: a lookup inside Slack's 3 seconds
        answers in time with "unknown" rather than late."""
        quick = web_client(self.settings, timeout=TZ_LOOKUP_TIMEOUT_S, retries="none")
        quick.token = client.token
        return quick

    def user_tz(self, client: WebClient, team: str, user: str) -> tuple[str, bool]:
        """The user's IANA time zone and whether it is known (else ``("UTC", False)``).

        Cached in Redis for a day; on a miss, ``users.info`` is asked with a short timeout.
        """
        tz = user_tz(self.quick(client), self.state, team, user)
        return (tz, True) if tz else ("UTC", False)

    def is_admin(self, client: WebClient, team: str, user: str) -> bool:
        """Whether Slack says the user is a workspace admin or owner (cached an hour)."""
        return is_admin(self.quick(client), self.state, team, user)

    def submit(
        self,
        *,
        submission_id: str,
        activity_type: str,
        request: dict[str, Any],
        values: dict[str, Any],
        team: str,
        user: str,
        channel: str | None,
        response_url: str | None,
        source: str,
        thread: dict[str, Any] | None = None,
    ) -> bool:
        """Keep the submission (for Edit and retry) and queue its create job.

        ``thread`` (``{"channel", "ts"}``) makes the job read that thread into the body.

        Returns:
            True if queued now; False if this exact submission was queued before.

        Raises:
            QueueUnavailable: Redis is down or slow; nothing was queued.
        """
        submission = Submission(
            id=submission_id,
            activity_type=activity_type,
            team=team,
            user=user,
            channel=channel,
            values=values,
            response_url=response_url,
            source=source,
            extra={"thread": thread} if thread else {},
        )
        try:
            self.state.save_submission(submission)
            return queues.enqueue_create_activity(
                self.conn,
                self.settings,
                submission_id=submission_id,
                request=request,
                origin={"team": team, "channel": channel, "user": user},
                thread=thread,
            )
        except redis.RedisError as exc:
            log.error(
                "event=enqueue_failed submission=%s team=%s user=%s error=%s",
                submission_id,
                team,
                user,
                type(exc).__name__,
            )
            raise QueueUnavailable(str(exc)) from exc


def services_of(context: Any) -> Services:
    """The ``Services`` placed in a Bolt context by ``bot.app``."""
    return context[CONTEXT_KEY]  # type: ignore[no-any-return]
