"""``rally-slack worker [--burst] [--queue NAME]...``: RQ workers on the project's queues.

Layout, following RQ's delivery guarantees:

- one worker process per queue. A worker listening to exactly one queue moves each job
  into that queue's intermediate list atomically (Redis ≥ 6.2), so a crash between
  dequeue and start cannot drop it; a job whose worker died is re-queued by the
  maintenance pass once the worker's heartbeat has expired.
- each worker runs RQ's scheduler for its own queue (``with_scheduler=True``), which
  moves retries scheduled with a backoff interval back onto the queue when due.
- the parent only supervises: it restarts a child that died and forwards SIGTERM/SIGINT
  (a warm shutdown: the current job finishes); a child still alive after
  :data:`SHUTDOWN_GRACE_S` that is not running a job is signalled again (RQ can miss a
  warm stop that lands just as a job ends).
- a Redis restart costs seconds: every Redis client of a worker and its work horse
  retries a closed connection or a ``LOADING`` answer for about 30 s
  (``core.redis.worker_redis``), and a heartbeat that still fails is skipped rather than
  fatal (:meth:`MeteredWorker.maintain_heartbeats`), so the worker stays with its horse,
  and the job in flight finishes and is recorded.

``--burst`` drains everything and exits 0: it first runs RQ's maintenance pass on every
queue (so a job whose worker died and whose heartbeat has expired is retried or failed,
as a long-running worker would do it), then repeatedly enqueues the scheduled jobs that
are already due (RQ's scheduler would only do that while running) and runs a burst worker
on each non-empty queue, one queue at a time, until nothing is queued and nothing is due.
Retries scheduled for later are left for a running worker.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

import redis
from pydantic import ValidationError
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from core import logging as core_logging
from core import metrics
from core.redis import worker_redis
from core.settings import job_settings, load_settings
from core.store import open_store
from workers import queues

log = logging.getLogger(__name__)

MAX_BURST_ROUNDS = 1000
# RQ's default is 10 minutes: a job whose worker was killed would wait that long (after
# its heartbeat expired) to be re-queued. A minute keeps a crashed create's delay short.
MAINTENANCE_INTERVAL_S = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``rally-slack worker``'s options."""
    parser.add_argument(
        "--burst", action="store_true", help="drain the queues (and due retries), then exit 0"
    )
    parser.add_argument(
        "--queue",
        action="append",
        choices=queues.ALL_QUEUES,
        help="serve only this queue (repeatable; default: all)",
    )
    metrics.add_arguments(parser, "jobs, Rally requests, queue depth, reminder lag")


OUTCOMES = {
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.SCHEDULED: "retried",
    JobStatus.QUEUED: "retried",
    JobStatus.STARTED: "retried",  # retried at once, and already picked up elsewhere
    JobStatus.DEFERRED: "retried",
    JobStatus.STOPPED: "stopped",
    JobStatus.CANCELED: "canceled",
}


class MeteredWorker(Worker):
    """RQ's forking worker, counting each job's outcome and binding its ids for the logs.

    The outcome is read in this (the worker's) process once the work horse is gone, from
    the job's status in Redis: the horse may have been killed, and only the worker sees
    every end. A job that finished with ``result_ttl=0`` is deleted at once: finished.
    """

    def execute_job(self, job: Job, queue: Queue) -> None:
        started = time.perf_counter()
        try:
            super().execute_job(job, queue)
        finally:
            metrics.JOB_SECONDS.labels(queue.name).observe(time.perf_counter() - started)
            metrics.JOBS.labels(queue.name, _outcome(job)).inc()

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        """Beat for the running horse; a Redis that is away even after the client's retries
        costs one beat, not the worker.

        RQ calls this from its monitoring loop every ``job_monitoring_interval`` while the
        horse runs; an error raised here would end the worker's work loop and orphan the
        horse's job until its heartbeat expired (about 90 s) and a maintenance pass
        re-queued it. The deadline a beat sets is the monitoring interval plus 60 s, so one
        skipped beat leaves the job well inside it.
        """
        try:
            super().maintain_heartbeats(job, execution)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning(
                "event=heartbeat_skipped queue=%s job=%s error=%s",
                job.origin,
                job.id,
                type(exc).__name__,
            )

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        metrics.become_work_horse()
        core_logging.bind_here(queue=queue.name, job=job.id, **_ids_of(job))
        super().main_work_horse(job, queue)


def _outcome(job: Job) -> str:
    try:
        status = job.get_status(refresh=True)
    except (InvalidJobOperation, NoSuchJobError):
        return "finished"
    if status is None:
        return "finished"
    return OUTCOMES.get(JobStatus(status), str(status))


def _ids_of(job: Job) -> dict[str, object]:
    """The team, user and activity a job is about, from its plain JSON arguments."""
    try:
        kwargs = job.kwargs
    except Exception:  # an undecodable job fails in the horse, saying so; not here
        return {}
    if not isinstance(kwargs, dict):
        return {}
    found = kwargs.get("origin")
    origin: dict[str, object] = found if isinstance(found, dict) else {}
    return {
        "team": kwargs.get("team") or origin.get("team"),
        "user": kwargs.get("user") or origin.get("user"),
        "activity": kwargs.get("activity_id") or kwargs.get("task_id"),
        "submission": kwargs.get("submission_id"),
    }


class BurstWorker(MeteredWorker):
    """A worker for ``--burst``: without RQ's pub/sub command channel.

    That channel lets ``rq`` stop a running job or worker remotely, which a worker that
    exits when the queue is empty does not need, and its listener thread costs a
    1-second join at every exit (once per queue per pass).
    """

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def enqueue_due_scheduled(conn: redis.Redis, names: Sequence[str]) -> int:
    """Move scheduled jobs whose time has come onto their queues; returns how many were due.

    Takes RQ's per-queue scheduler lock, so it never races a running worker's scheduler
    (a queue whose lock is held elsewhere is left to that scheduler).
    """
    scheduler = RQScheduler(list(names), connection=conn, serializer=JSONSerializer)
    acquired = scheduler.acquire_locks()  # type: ignore[no-untyped-call]
    try:
        due = 0
        now = int(datetime.now(UTC).timestamp())
        for name in names:
            registry = ScheduledJobRegistry(name, connection=conn, serializer=JSONSerializer)  # type: ignore[no-untyped-call]
            due += len(registry.get_jobs_to_schedule(now))
        if acquired:
            scheduler.prepare_registries(acquired)
            scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
        return due
    finally:
        scheduler.release_locks()  # type: ignore[no-untyped-call]


def recover_abandoned(conn: redis.Redis, names: Sequence[str]) -> None:
    """Run RQ's maintenance pass on each queue: recover jobs whose worker died.

    An abandoned job is not on its queue but in its StartedJobRegistry, so a burst that
    only starts workers on non-empty queues would never look at it. This is the pass a
    worker runs at startup (``Worker.clean_registries``: registries, dead workers, the
    intermediate list), under RQ's per-queue maintenance lock. It only touches entries
    whose heartbeat deadline has passed, so a job a live worker is running is left alone;
    an expired one is retried (at once, or scheduled per its Retry interval) if it has
    retries left, else moved to the failed registry, its failure callback run either way.
    """
    for name in names:
        BurstWorker(
            [queues.queue(name, conn)], connection=conn, serializer=JSONSerializer
        ).clean_registries()  # type: ignore[no-untyped-call]


def run_burst(conn: redis.Redis, names: Sequence[str], *, log_level: str = "INFO") -> int:
    """Drain ``names`` (and their due retries) with one single-queue burst worker at a time.

    Jobs abandoned by a dead worker whose heartbeat has expired are recovered first
    (:func:`recover_abandoned`).

    Returns:
        The number of worker passes that processed at least one job.
    """
    recover_abandoned(conn, names)
    passes = 0
    for _ in range(MAX_BURST_ROUNDS):
        due = enqueue_due_scheduled(conn, names)
        worked = False
        for name in names:
            q = queues.queue(name, conn)
            if q.count == 0:
                continue
            worker = BurstWorker([q], connection=conn, serializer=JSONSerializer)
            if worker.work(burst=True, logging_level=log_level):
                passes += 1
                worked = True
        if not worked and not due:
            soon = _lane_wait(conn, names)
            if soon is None:
                return passes
            time.sleep(soon)
    return passes


LANE_WAIT_S = 5.0
"""A burst waits for a lane's drainer re-scheduled this soon (a paced message, a tenant's
short pause): it is part of draining what is queued, not a retry for later."""


def _lane_wait(conn: redis.Redis, names: Sequence[str]) -> float | None:
    """Seconds until the first lane drainer (``workers.lanes``) scheduled within
    :data:`LANE_WAIT_S` is due, or None when there is none."""
    now = time.time()
    soonest: float | None = None
    for name in names:
        key = ScheduledJobRegistry(name, connection=conn, serializer=JSONSerializer).key  # type: ignore[no-untyped-call]
        found = conn.zrangebyscore(key, "-inf", now + LANE_WAIT_S, withscores=True)
        for raw, score in cast(list[tuple[bytes, float]], found):
            if raw.startswith(b"drain-"):
                soonest = float(score) if soonest is None else min(soonest, float(score))
    if soonest is None:
        return None
    return min(max(soonest - now, 0.0) + 0.05, LANE_WAIT_S)


def _serve_one(url: str, name: str, log_level: str) -> None:
    # A fresh connection in the child: sockets must not be shared across fork.
    conn = worker_redis(url)
    worker = MeteredWorker(
        [queues.queue(name, conn)],
        connection=conn,
        serializer=JSONSerializer,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
    )
    worker.work(with_scheduler=True, logging_level=log_level)


def run_forever(url: str, names: Sequence[str], *, log_level: str = "INFO") -> int:
    """Run one worker process per queue until SIGTERM/SIGINT; restart any that dies."""
    ctx = multiprocessing.get_context("fork")
    children: dict[str, multiprocessing.process.BaseProcess] = {}
    stopping = False

    def start(name: str) -> None:
        proc = ctx.Process(target=_serve_one, args=(url, name, log_level), name=f"rq:{name}")
        proc.start()
        children[name] = proc
        log.info("event=worker_started queue=%s pid=%s", name, proc.pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in children.values():
            if proc.pid and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for name in names:
        start(name)
    while not stopping:
        for name, proc in list(children.items()):
            if not proc.is_alive() and not stopping:
                log.warning("event=worker_died queue=%s exitcode=%s", name, proc.exitcode)
                if proc.pid:
                    metrics.mark_process_dead(proc.pid)
                start(name)
        time.sleep(1.0)
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    for proc in children.values():
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
    _stop_idle_stragglers(url, children)
    for proc in children.values():
        proc.join(timeout=60)
    return 0


SHUTDOWN_GRACE_S = 5.0
"""How long a warm shutdown waits before an idle worker that missed it is told again."""


def _stop_idle_stragglers(
    url: str, children: dict[str, multiprocessing.process.BaseProcess]
) -> None:
    """Signal again each child still alive whose RQ worker is not running a job.

    RQ's warm shutdown raises its stop from the signal handler only when the worker is not
    busy; a SIGTERM landing in the moment after a job ended and before the worker went
    back to waiting can be lost, and the worker then blocks in its dequeue for minutes. A
    second SIGTERM is RQ's cold shutdown, harmless for a worker with no work horse; one
    that is busy is left to finish its job.
    """
    alive = {proc.pid: proc for proc in children.values() if proc.pid and proc.is_alive()}
    if not alive:
        return
    try:
        conn = worker_redis(url)
        states = {w.pid: w.get_state() for w in Worker.all(connection=conn)}
    except redis.RedisError:
        states = {}
    for pid in alive:
        if states.get(pid) != "busy":
            log.info("event=worker_stop_again pid=%s state=%s", pid, states.get(pid))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


PRELOAD = (
    "api_client",
    "workers.jobs",
    "workers.coalesce",
    "workers.outbox",
    "workers.reminders",
    "slack_ui.messages",
    "workers.slack",
    "workers.schedules",
    "workers.reminder_poster",
    "workers.task_actions",
    "workers.imports.slack",
    "workers.lifecycle",
    "workers.workspace",
    "core.store",
)


def preload() -> None:
    """Import what jobs use before any fork.

    RQ runs each job in a forked work horse: what is loaded here is inherited, while a
    job that loads it itself pays ~0.25 s of imports (and ~25 ms of CA bundle) every run.
    """
    for name in PRELOAD:
        importlib.import_module(name)
    from api_client import RallyClient

    # The first client builds the process's shared TLS context (its CA bundle load is
    # the costliest part of a client); forked horses inherit it.
    RallyClient("http://127.0.0.1", "preload-not-a-key").close()
    with contextlib.suppress(ValidationError):
        settings = job_settings()  # inherited by every horse (a wrong one is named by the job)
        # The store's schema is checked here, once, not in every horse (core.store).
        with contextlib.suppress(Exception):
            open_store(settings.database_url, settings.encryption_keys())


def check_redis(conn: redis.Redis) -> list[str]:
    """Warn about Redis settings that can lose work; returns the warnings logged.

    Queued jobs, retries and pending submissions live only in Redis: an eviction policy
    other than ``noeviction`` may drop them under memory pressure, and without AOF a
    restart forgets everything since the last snapshot (README, Production). A managed
    Redis that refuses ``CONFIG GET`` is taken as configured by its operator.
    """
    try:
        policy = conn.config_get("maxmemory-policy").get("maxmemory-policy")
        appendonly = conn.config_get("appendonly").get("appendonly")
    except redis.ResponseError:
        log.info("event=redis_config_unreadable")
        return []
    except redis.RedisError as exc:
        log.warning("event=redis_unreachable error=%s", type(exc).__name__)
        return []
    warnings = []
    if policy is not None and policy != "noeviction":
        warnings.append(
            f"maxmemory-policy is {policy}: Redis may evict queued jobs and pending "
            "submissions under memory pressure; set maxmemory-policy noeviction"
        )
    if appendonly is not None and appendonly != "yes":
        warnings.append(
            "appendonly is no: a Redis restart loses every queued job since the last "
            "snapshot; set appendonly yes (appendfsync everysec)"
        )
    for warning in warnings:
        log.warning("event=redis_not_durable %s", warning)
    return warnings


def run(args: argparse.Namespace) -> int:
    """``rally-slack worker``: one RQ worker process per queue, or a burst."""
    settings = load_settings()
    names = tuple(args.queue or queues.ALL_QUEUES)
    preload()
    conn = worker_redis(settings.redis_url)
    check_redis(conn)
    if args.metrics_port is not None:
        from workers.metrics import RedisCollector

        # Before any fork: each per-queue process writes its own file, and this one, the
        # supervisor, adds them up at each scrape (with queue depth and reminder lag).
        metrics.enable()
        metrics.serve(args.metrics_port, args.metrics_host, [RedisCollector(settings)])
    try:
        if args.burst:
            passes = run_burst(conn, names, log_level=args.log_level.upper())
            log.info("event=burst_done queues=%s passes=%s", ",".join(names), passes)
            return 0
        return run_forever(settings.redis_url, names, log_level=args.log_level.upper())
    finally:
        metrics.disable()
