"""The reminder schedule runs one sync and one tick at a time, clicks have a queue of their
own, and a worker warns about a Redis that could lose work."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from devstack.local import redis_server
from slack_ui.ids import COMPLETE_ACTION
from tests.e2e.harness import Rally
from tests.e2e.reminders_support import buttons, iso_in, log_task, remind_once, reminders
from workers import queues
from workers.runner import run_burst
from workers.schedules import build_cron

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))


def _minute_has_come(rally: Rally) -> int:
    cron = build_cron(rally.redis)
    for job in cron.get_jobs():
        job.next_enqueue_time = datetime.now(UTC)
    return len(cron.enqueue_jobs())


def test_the_cron_never_stacks_a_second_sync_tick_or_digest_run_behind_a_pending_one(
    rally: Rally,
) -> None:
    for _ in range(5):  # five minutes pass while the worker is stuck
        _minute_has_come(rally)
    assert rally.queued()[queues.REMINDERS] == 4  # a sync, a tick, a digest run, a lane sweep
    rally.work()
    assert rally.queued()[queues.REMINDERS] == 0
    _minute_has_come(rally)  # finished ones do not block the next minute
    assert rally.queued()[queues.REMINDERS] == 4  # a sync, a tick, a digest run, a lane sweep


def test_a_click_is_served_while_the_reminder_queue_has_a_backlog(rally: Rally) -> None:
    task = log_task(rally, f"Urgent follow-up due:{iso_in(5)}")
    remind_once()
    [message] = reminders(rally, "C0SALES")
    for i in range(50):  # a slow Rally: reminder work piling up
        queues.queue(queues.REMINDERS, rally.redis).enqueue_call(
            "workers.schedules.sync_job", job_id=f"backlog-{i}"
        )
    from tests.e2e.reminders_support import click, get_task

    click(rally, message, COMPLETE_ACTION, work=False)
    assert rally.queued()[queues.ACTIONS] == 1
    run_burst(rally.redis, [queues.ACTIONS], log_level="WARNING")
    assert get_task(rally, task["id"])["status"] == "completed"
    assert rally.queued()[queues.REMINDERS] == 50
    assert buttons(reminders(rally, "C0SALES")[0]) == {}


@pytest.mark.subprocess
def test_a_worker_names_the_redis_settings_that_can_lose_work(tmp_path: Path) -> None:
    with redis_server(tmp_path, "--maxmemory-policy", "allkeys-lru") as url:
        env = dict(os.environ, REDIS_URL=url)
        result = subprocess.run(
            [RALLY_SLACK, "worker", "--burst"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 0, result.stderr
    assert "maxmemory-policy is allkeys-lru" in result.stderr
    assert "set maxmemory-policy noeviction" in result.stderr
    assert "appendonly is no" in result.stderr


def test_a_maintenance_pass_left_by_a_killed_worker_blocks_recovery_a_minute_not_fifteen(
    redis_conn: redis.Redis,
) -> None:
    q = queues.queue(queues.ACTIVITIES, redis_conn)
    assert q.acquire_maintenance_lock()  # then the worker is killed before releasing it
    assert 0 < redis_conn.ttl(q.registry_cleaning_key) <= queues.MAINTENANCE_LOCK_S
    assert not q.acquire_maintenance_lock()
