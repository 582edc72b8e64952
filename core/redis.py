"""Redis clients, one factory per use.

- :func:`request_path_redis` for code answering Slack: it fails within a fraction of
  Slack's 3 seconds, so a down Redis is told to the person with their input kept.
- :func:`worker_redis` for background processes: redis-py's default retries.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


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


def worker_redis(url: str) -> redis.Redis:
    """A Redis client for background processes, with redis-py's default retries."""
    return redis.Redis.from_url(url)
