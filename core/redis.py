"""Redis clients, one factory per use.

- :func:`request_path_redis` for code answering Slack: it fails within a fraction of
  Slack's 3 seconds, so a down Redis is told to the person with their input kept.
- :func:`worker_redis` for background processes: rides out a Redis restart (closed
  connections, then ``LOADING`` while it reads its AOF) by retrying with a short backoff.
"""

from __future__ import annotations

from typing import Final

import redis
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import BusyLoadingError
from redis.retry import Retry

WORKER_RETRY_BASE_S = 0.05
WORKER_RETRY_CAP_S = 1.0
WORKER_RETRIES = 45
"""About 30 s of retrying (each wait between half and all of ``min(cap, base·2ⁿ)``):
longer than a restart that reloads its AOF, short enough that a Redis that is really gone
surfaces as an error, and the job is then retried by RQ or recovered by maintenance."""
WORKER_CONNECT_TIMEOUT_S = 5.0


def request_path_redis(url: str, *, timeout_s: float = 0.5) -> redis.Redis:
    """A Redis client for code answering Slack: fails fast instead of retrying.

    Slack gives us three seconds; a down Redis must surface as an error within a fraction
    of that so the user can be told (and their input offered back), not hang the request.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


DRIVER_INFO: Final = DriverInfo(name="redis-py", lib_version=redis.__version__)
"""What each connection tells Redis (``CLIENT SETINFO``), given once: left to redis-py, each
new connection asks ``importlib.metadata`` for the version (about 1.3 ms, in every job)."""


def worker_redis(url: str) -> redis.Redis:
    """A Redis client for background processes (workers, their work horses, the cron).

    Every command is retried on :class:`redis.ConnectionError` (which includes
    :class:`~redis.exceptions.BusyLoadingError`, Redis's ``LOADING`` answer while it reads
    its AOF after a restart) and :class:`redis.TimeoutError`, with a backoff that starts at
    50 ms and stays under a second, for about 30 s in all (redis-py's default gives up
    after three tries, within a second or two). So a worker's heartbeat, a work horse
    recording its result and a job's own reads and writes wait out a Redis restart instead
    of failing: RQ's worker would die on the error and leave the job in flight to RQ's
    abandoned-job detection (about 90 s, plus the maintenance interval).

    Retrying a write whose answer was lost could apply it twice; what RQ and the jobs send
    is idempotent (sets, hashes, expiries, sorted-set scores) or guarded (a dequeue's LMOVE
    lands in the queue's intermediate list, which RQ's maintenance cleans).
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=WORKER_CONNECT_TIMEOUT_S,
        socket_keepalive=True,
        retry=Retry(
            EqualJitterBackoff(cap=WORKER_RETRY_CAP_S, base=WORKER_RETRY_BASE_S), WORKER_RETRIES
        ),
        retry_on_error=[BusyLoadingError, redis.ConnectionError, redis.TimeoutError],
        driver_info=DRIVER_INFO,
    )
