"""The one place the workers build a Rally client, with the timeout and retries of each use.

Every job builds its client from :class:`~core.settings.Settings` (STYLE: Jobs); what
differs between jobs is only how long a call may take and how often the client itself
retries before the failure is the job's to handle. That policy is the table below.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import httpx

from api_client import RallyClient
from core import metrics
from workers.workspace import Credential

Use = Literal["activities", "drain", "reconcile", "actions", "reminders", "imports"]


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """How one kind of job talks to Rally.

    Attributes:
        timeout: Seconds for each connect, read, write and pool wait.
        max_retries: Retries inside one call, before the error reaches the job.
    """

    timeout: float
    max_retries: int


POLICIES: Final[Mapping[Use, ClientPolicy]] = MappingProxyType(
    {
        # Someone in Slack waits on a create or a click: few in-call retries, since a
        # longer outage is RQ's to retry (or the user's, told at once), with them informed.
        "activities": ClientPolicy(timeout=10.0, max_retries=1),
        # The coalescing drainer (``workers.coalesce``): no waiting inside a call. A 429
        # pauses the tenant and other failures re-schedule the batch, so a worker is never
        # held by one tenant's trouble while others' work waits.
        "drain": ClientPolicy(timeout=10.0, max_retries=0),
        # Its reconciling lists (GETs, safe to repeat), after a create went unanswered:
        # many pages when the tenant is busy, and one refused page must not undo the look.
        "reconcile": ClientPolicy(timeout=10.0, max_retries=3),
        "actions": ClientPolicy(timeout=10.0, max_retries=1),
        # Nobody waits on the sync and the tick, and the next minute's run tries again;
        # more patience per call keeps a slow Rally from failing a whole sync.
        "reminders": ClientPolicy(timeout=15.0, max_retries=2),
        # A CSV import's chunks of 100: bigger bodies, and a retried chunk is replayed by
        # its Idempotency-Key, so patience costs nothing but time.
        "imports": ClientPolicy(timeout=30.0, max_retries=3),
    }
)


def rally_client(credential: Credential, *, use: Use) -> RallyClient:
    """A client for ``credential``'s tenant, with the policy of ``use`` (see :data:`POLICIES`).

    Args:
        credential: Whom to call as (``workers.workspace.credential``): a workspace's
            connection, or a person's own key.
        use: ``"activities"`` (creating what Slack submitted), ``"actions"``
            (Complete/Snooze clicks) or ``"reminders"`` (the sync and the tick).

    Returns:
        A client to use as a context manager (or close).
    """
    policy = POLICIES[use]
    return RallyClient(
        credential.base_url,
        credential.api_key,
        timeout=policy.timeout,
        max_retries=policy.max_retries,
        event_hooks=EVENT_HOOKS,
    )


def _started(request: httpx.Request) -> None:
    request.extensions["rally_slack_started"] = time.perf_counter()


def _answered(response: httpx.Response) -> None:
    request = response.request
    tenant = urlsplit(str(request.url)).hostname or "unknown"
    metrics.RALLY_REQUESTS.labels(tenant, request.method, str(response.status_code)).inc()
    started = request.extensions.get("rally_slack_started")
    if isinstance(started, float):
        metrics.RALLY_SECONDS.labels(tenant).observe(time.perf_counter() - started)


EVENT_HOOKS: Final[Mapping[str, list[Any]]] = MappingProxyType(
    {"request": [_started], "response": [_answered]}
)
"""httpx event hooks of every client the workers build: each Activities API response
(every attempt) counted by tenant host, method and status, and timed (:mod:`core.metrics`)."""
