"""How the fake says no: the ``ok: false`` answers Slack gives, and the ones a test scripts.

Two kinds of failure, kept together because both end as the same ``{"ok": false,
"error": ...}`` body:

- :class:`SlackError` is raised wherever Slack itself would refuse (``channel_not_found``,
  ``hash_conflict``...); the Web API turns it into the answer.
- :class:`Failures` is what a test asks for on purpose: the next calls of one method fail
  (:meth:`Failures.fail_next`, e.g. a 429 with ``Retry-After``), or Slack is down
  altogether for a number of requests (:meth:`Failures.outage`), Web API and response
  URLs alike, which is why the outage lives here and not in the Web API.

No locking here: :class:`~devstack.fake_slack.server.FakeSlack` holds its lock around
every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SlackError(Exception):
    """An ``ok: false`` answer, raised inside a method handler."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int
    remaining: int


class Failures:
    """The failures scripted for the coming requests."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every scripted failure and end any outage."""
        self._queued: dict[str, list[_Failure]] = {}
        self._outage_left = 0

    def fail_next(
        self, method: str, error: str, *, status: int = 200, retry_after: int = 1, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``error`` (see ``FakeSlack``)."""
        self._queued.setdefault(method, []).append(
            _Failure(error=error, status=status, retry_after=retry_after, remaining=times)
        )

    def outage(self, calls: int) -> None:
        """Slack is down for the next ``calls`` requests of any kind (``0`` ends it)."""
        self._outage_left = calls

    def in_outage(self) -> bool:
        """Whether this request falls in the outage (each question uses up one request)."""
        if self._outage_left <= 0:
            return False
        self._outage_left -= 1
        return True

    def next_failure(self, method: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """The scripted answer for this call of ``method`` (status, body, headers), if any."""
        queue = self._queued.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        headers = {}
        if failure.status == 429:
            headers["Retry-After"] = str(failure.retry_after)
        return failure.status, {"ok": False, "error": failure.error}, headers
