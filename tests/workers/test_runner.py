"""``rally-slack worker``: one worker per queue, burst drains due retries, clean exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rq import Worker
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from bot.server import create_flask_app
from tests.e2e.harness import Rally
from tests.fixtures.waiting import wait_until
from workers import queues
from workers.runner import enqueue_due_scheduled, run_burst

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))


def test_burst_leaves_a_retry_that_is_not_yet_due_and_runs_it_once_due(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
) -> None:
    monkeypatch.setenv("JOB_RETRY_INTERVALS", "2")
    rally.settings = rally.settings.model_copy(update={"job_retry_intervals": "2"})
    rally.client = create_flask_app(rally.settings).test_client()
    monkeypatch.setenv("RALLY_BASE_URL", serve_app(make_sandbox_app(fail_rate=1.0)))
    rally.command("note Retried later")
    run_burst(rally.redis, queues.ALL_QUEUES, log_level="WARNING")
    registry = ScheduledJobRegistry(
        queues.ACTIVITIES, connection=rally.redis, serializer=JSONSerializer
    )
    [job_id] = registry.get_job_ids()  # the lane's retry, 2 s out: not due, left alone
    assert job_id.startswith("retry-create-")
    assert rally.activities() == []

    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)  # Rally is back
    wait_until(lambda: registry.get_jobs_to_schedule(int(time.time())), timeout=20.0)
    run_burst(rally.redis, queues.ALL_QUEUES, log_level="WARNING")
    assert [a["subject"] for a in rally.activities()] == ["Retried later"]
    assert registry.get_job_ids() == []


def test_enqueue_due_scheduled_leaves_a_queue_whose_scheduler_lock_is_held(rally: Rally) -> None:
    rally.redis.set(f"rq:scheduler-lock:{queues.ACTIVITIES}", "someone-else")
    q = queues.queue(queues.ACTIVITIES, rally.redis)
    q.enqueue_in(timedelta(seconds=0), "workers.jobs.notify_outcome", "x", {})
    assert enqueue_due_scheduled(rally.redis, [queues.ACTIVITIES]) == 1
    assert q.count == 0  # the lock holder's scheduler will move it


def test_cli_burst_drains_and_exits_zero(rally: Rally) -> None:
    rally.command("note From the CLI")
    result = subprocess.run(
        [RALLY_SLACK, "worker", "--burst"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [a["subject"] for a in rally.activities()] == ["From the CLI"]
    assert rally.queued() == {name: 0 for name in queues.ALL_QUEUES}


def test_long_running_worker_runs_one_process_per_queue_and_stops_on_sigterm(
    rally: Rally, tmp_path: Path
) -> None:
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [RALLY_SLACK, "worker"], env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        workers = wait_until(
            lambda: (
                len(Worker.all(connection=rally.redis)) == len(queues.ALL_QUEUES)
                and Worker.all(connection=rally.redis)
            ),
            timeout=20.0,
        )
        assert sorted(tuple(w.queue_names()) for w in workers) == [
            (name,) for name in sorted(queues.ALL_QUEUES)
        ]
        assert len({w.pid for w in workers}) == len(queues.ALL_QUEUES)

        rally.command("note Served by the long-running worker")
        wait_until(lambda: rally.activities(), timeout=20.0)
        wait_until(lambda: any("Served by" in t for t in rally.shown_to()), timeout=20.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()
    wait_until(lambda: Worker.all(connection=rally.redis) == [], timeout=20.0)


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("command", "missing"),
    [("socket", "SLACK_APP_TOKEN"), ("web", "SLACK_SIGNING_SECRET")],
)
def test_processes_refuse_to_start_without_their_configuration(
    tmp_path: Path, command: str, missing: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RALLY_"))}
    result = subprocess.run(
        [RALLY_SLACK, command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert missing in result.stderr
    assert "xoxb-" not in result.stderr
