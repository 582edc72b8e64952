"""A worker outlives a Redis that is away: the pieces the restart e2e test relies on
(tests/e2e/test_redis_restart.py), each on its own."""

from __future__ import annotations

import logging

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError
from redis.retry import Retry
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer

from core.redis import WORKER_RETRIES, worker_redis
from tests.fixtures.redis import free_port
from workers import queues
from workers.runner import MeteredWorker


def test_a_heartbeat_redis_refuses_costs_one_beat_not_the_worker(
    redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    worker = MeteredWorker(  # registers itself: needs a Redis that answers ...
        [queues.queue(queues.ACTIVITIES, redis_conn)],
        connection=redis_conn,
        serializer=JSONSerializer,
    )
    # ... which then goes: nobody listens on this port, and the client does not retry.
    gone = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0), socket_connect_timeout=1)
    worker.connection = gone
    job = Job.create(func="builtins.print", connection=gone, serializer=JSONSerializer)
    execution = Execution("e1", job.id, connection=gone)
    with caplog.at_level(logging.WARNING, logger="workers.runner"):
        worker.maintain_heartbeats(job, execution)  # RQ's monitoring loop would die here
    assert "event=heartbeat_skipped" in caplog.text
    assert "ConnectionError" in caplog.text


def test_worker_clients_retry_a_closed_connection_and_loading_for_about_half_a_minute() -> None:
    conn = worker_redis("redis://127.0.0.1:6379/0")
    kwargs = conn.connection_pool.connection_kwargs
    retry = kwargs["retry"]
    assert retry.get_retries() == WORKER_RETRIES
    for error in (redis.ConnectionError, BusyLoadingError, redis.TimeoutError):
        assert issubclass(error, tuple(retry._supported_errors))
    waits = [retry._backoff.compute(n) for n in range(1, WORKER_RETRIES + 1)]
    assert waits[0] < 0.2  # a blip costs a tenth of a second ...
    assert 20 < sum(waits) < 50  # ... a restart up to ~30 s, then the error surfaces
    assert kwargs["socket_connect_timeout"] == 5.0
