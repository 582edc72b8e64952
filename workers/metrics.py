"""What the workers add to :mod:`core.metrics`: series read from Redis at scrape time.
(The Activities API's responses are counted by the clients :mod:`workers.rally` builds.)

At each scrape of ``rally-slack worker --metrics-port`` (:class:`RedisCollector`):

- ``rally_slack_queue_jobs{queue, state}``: jobs waiting (``queued``), running
  (``started``), waiting for a retry or a time (``scheduled``) and kept as ``failed``;
- ``rally_slack_queue_oldest_job_age_seconds{queue}``: how long the next job to run has
  waited (0 when the queue is empty);
- ``rally_slack_reminder_lag_seconds``: how late the most overdue reminder is. A task's
  reminder is due ``REMINDER_LEAD_MINUTES`` before the task; the oldest entry of each
  tenant's ``unsent`` index (what the tick has still to remind) gives now minus that
  moment, 0 when nothing is late. The sync and tick of a tenant put its index's
  namespace in :data:`NAMESPACES` (the index keeps no list of tenants otherwise);
- ``rally_slack_reminders_due{}``: reminders due now and not yet sent, all tenants;
- ``rally_slack_lane_items{kind}``: creates (``create``) and outcomes (``tell``) waiting on
  the coalescing lanes (``workers.lanes``), not yet in a batch: the backlog behind the
  ``rally-activities`` and ``rally-notify`` queues, whose own depth counts drainers;
- ``rally_slack_redis_up``: 0 when Redis did not answer the scrape (the rest is then absent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from rq.job import Job
from rq.serializers import JSONSerializer

from core.redis import request_path_redis
from core.settings import Settings
from workers import lanes, queues
from workers.reminders.index import NAMESPACES, Keys

log = logging.getLogger(__name__)

SCRAPE_REDIS_TIMEOUT_S = 2.0


class RedisCollector(Collector):
    """Queue depth and reminder lag, read from Redis when Prometheus scrapes."""

    def __init__(self, settings: Settings) -> None:
        self.conn = request_path_redis(settings.redis_url, timeout_s=SCRAPE_REDIS_TIMEOUT_S)
        self.lead_seconds = settings.reminder_lead_minutes * 60

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "rally_slack_redis_up", "Whether Redis answered this scrape (1) or not (0)"
        )
        try:
            families = [*self._queues(), self._lanes(), *self._reminders()]
        except redis.RedisError as exc:
            log.warning("event=metrics_redis_down error=%s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _queues(self) -> list[Metric]:
        depth = GaugeMetricFamily(
            "rally_slack_queue_jobs", "Jobs of each queue by state", labels=["queue", "state"]
        )
        age = GaugeMetricFamily(
            "rally_slack_queue_oldest_job_age_seconds",
            "How long the next job of each queue has waited",
            labels=["queue"],
        )
        now = datetime.now(UTC)
        for name in queues.ALL_QUEUES:
            q = queues.queue(name, self.conn)
            counts = {
                "queued": q.count,
                "started": q.started_job_registry.get_job_count(cleanup=False),
                "scheduled": q.scheduled_job_registry.get_job_count(cleanup=False),
                "failed": q.failed_job_registry.get_job_count(cleanup=False),
            }
            for state, count in counts.items():
                depth.add_metric([name, state], count)
            age.add_metric([name], self._oldest_age(q.get_job_ids(0, 0), now))
        return [depth, age]

    def _lanes(self) -> Metric:
        items = GaugeMetricFamily(
            "rally_slack_lane_items",
            "Creates and outcomes waiting on coalescing lanes, by kind",
            labels=["kind"],
        )
        for kind in ("create", "tell"):
            items.add_metric([kind], lanes.depth(self.conn, kind))
        return items

    def _oldest_age(self, head: list[str], now: datetime) -> float:
        if not head:
            return 0.0
        job = Job.fetch_many(head, connection=self.conn, serializer=JSONSerializer)[0]
        if job is None or job.enqueued_at is None:
            return 0.0
        enqueued = job.enqueued_at
        if enqueued.tzinfo is None:
            enqueued = enqueued.replace(tzinfo=UTC)
        return max(0.0, (now - enqueued).total_seconds())

    def _reminders(self) -> list[Metric]:
        now = time.time()
        namespaces = sorted(
            m.decode() if isinstance(m, bytes) else str(m) for m in self.conn.smembers(NAMESPACES)
        )
        pipe = self.conn.pipeline(transaction=False)
        for namespace in namespaces:
            keys = Keys(namespace)
            pipe.zrange(keys.unsent, 0, 0, withscores=True)
            pipe.zcount(keys.unsent, "-inf", now + self.lead_seconds)
        answers = pipe.execute() if namespaces else []
        lag, due = 0.0, 0
        for oldest, count in zip(answers[::2], answers[1::2], strict=True):
            due += int(count)
            if oldest:
                remind_at = float(oldest[0][1]) - self.lead_seconds
                lag = max(lag, now - remind_at)
        lag_family = GaugeMetricFamily(
            "rally_slack_reminder_lag_seconds",
            "How late the most overdue unsent reminder is (0: none is late)",
        )
        lag_family.add_metric([], lag)
        due_family = GaugeMetricFamily(
            "rally_slack_reminders_due", "Reminders due now and not yet sent, all tenants"
        )
        due_family.add_metric([], due)
        return [lag_family, due_family]
