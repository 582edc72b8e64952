"""SPEC §9 through the processes an operator runs: ``rally-slack web --metrics-port`` (two
gunicorn workers) and ``rally-slack worker --metrics-port``, with ``LOG_FORMAT=json``.
Signed requests in, jobs run by the real worker, then ``/metrics`` scraped from each
metrics port and the JSON log lines read back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from devstack.fake_slack.payloads import (
    interactive_body,
    signed_headers,
    slash_command,
    state_values_for,
    view_submission,
)
from devstack.fake_slack.server import TEAM_ID, FakeSlack
from tests.fixtures.database import TEST_KEYS
from tests.fixtures.processes import Process
from tests.fixtures.redis import free_port
from tests.fixtures.sandbox import DEV_API_KEY
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET
from tests.fixtures.waiting import wait_until
from workers import queues
from workers.runner import run_burst
from workers.workspace import store_of

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def stack(rally_settings: Settings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """web (public and metrics ports) and a worker (metrics port), both logging JSON."""
    store_of(rally_settings)  # the schema, before two gunicorn workers race to make it
    env = {**os.environ, "LOG_FORMAT": "json"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each process tree makes its own
    web_port, web_metrics, worker_metrics = free_port(), free_port(), free_port()
    web = Process(
        [
            "web",
            *("--port", str(web_port), "--host", "127.0.0.1", "--workers", "2"),
            *("--metrics-port", str(web_metrics)),
        ],
        env,
        tmp_path / "web.log",
    )
    # The worker's files where the test can count them (the web makes its own directory).
    worker_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics")}
    worker = Process(
        [
            "worker",
            *("--queue", "rally-activities", "--queue", "rally-notify"),
            *("--metrics-port", str(worker_metrics)),
        ],
        worker_env,
        tmp_path / "worker.log",
    )
    try:
        web.wait_answering(f"http://127.0.0.1:{web_port}/healthz", timeout=30)
        web.wait_answering(f"http://127.0.0.1:{web_metrics}/metrics", timeout=30)
        worker.wait_answering(f"http://127.0.0.1:{worker_metrics}/metrics", timeout=30)
        yield {
            "base": f"http://127.0.0.1:{web_port}",
            "web_metrics": f"http://127.0.0.1:{web_metrics}/metrics",
            "worker_metrics": f"http://127.0.0.1:{worker_metrics}/metrics",
            "stop": lambda: (web.stop(), worker.stop()),
            "logs": (web.log, worker.log),
            "worker_files": tmp_path / "worker-metrics",
        }
    finally:
        for process in (web, worker):
            if process.proc.poll() is None:
                process.stop()


def _post(base: str, body: bytes, *, signed: bool = True) -> httpx.Response:
    headers = signed_headers(body, SIGNING_SECRET if signed else "not-the-secret")
    return httpx.post(f"{base}/slack/events", content=body, headers=headers, timeout=10)


def _eventually(check: Callable[[], Any], what: str) -> Any:
    try:
        return wait_until(check, timeout=60, interval=0.2)
    except TimeoutError:
        raise AssertionError(what) from None


def test_metrics_count_requests_jobs_and_rally_calls_across_processes_and_logs_are_json(
    stack: dict[str, Any],
    fake_slack: FakeSlack,
    rally_settings: Settings,
    redis_conn: redis.Redis,
) -> None:
    base = stack["base"]

    def command(text: str) -> httpx.Response:
        return _post(
            base,
            slash_command(
                text,
                trigger_id=fake_slack.new_trigger_id("U0ALICE"),
                response_url=fake_slack.new_response_url(channel="C0SALES", user="U0ALICE"),
            ),
        )

    # Several, so both gunicorn workers answer some: the count must be their sum.
    for _ in range(6):
        assert command("help").status_code == 200
    assert command('task Send proposal to Acme due:"tomorrow 5pm"').status_code == 200
    assert command("call").status_code == 200
    view = fake_slack.wait_for("views.open").response["view"]
    values = {"subject": "Intro with Jane", "direction": "outbound", "status": "completed"}
    submitted = _post(base, interactive_body(view_submission(view, state_values_for(view, values))))
    assert submitted.status_code == 200
    assert _post(base, slash_command("help"), signed=False).status_code == 401

    web = _eventually(
        lambda: (
            (s := _scrape(stack["web_metrics"]))
            and _value(s, "rally_slack_requests_total", kind="command", status="200") == 8
            and _value(s, "rally_slack_requests_total", kind="view", status="200") == 1
            and s
        ),
        "the web's /metrics never counted 8 commands and 1 view",
    )
    assert _value(web, "rally_slack_requests_total", kind="unknown", status="401") == 1
    assert _value(web, "rally_slack_ack_seconds_count", kind="command") == 8
    assert _value(web, "rally_slack_ack_seconds_bucket", kind="command", le="3.0") == 8
    assert _value(web, "rally_slack_ack_seconds_count", kind="view") == 1

    # The two creates went out as one bulk or as two single creates, depending on whether
    # the second arrived while the first waited (workers/coalesce.py): count creates.
    worker = _eventually(
        lambda: (
            (s := _scrape(stack["worker_metrics"]))
            and _value(s, "rally_slack_batch_items_sum", kind="create") == 2
            and _value(s, "rally_slack_batch_items_sum", kind="tell") == 2
            and s
        ),
        "the worker's /metrics never counted 2 creates and 2 outcomes told",
    )
    drains = _value(worker, "rally_slack_jobs_total", queue="rally-activities", outcome="finished")
    assert drains in (1, 2)
    singles = (
        _value(
            worker,
            "rally_slack_rally_requests_total",
            tenant="127.0.0.1",
            method="POST",
            status="201",
        )
        or 0
    )
    bulks = (
        _value(
            worker,
            "rally_slack_rally_requests_total",
            tenant="127.0.0.1",
            method="POST",
            status="200",
        )
        or 0
    )
    assert (singles, bulks) in ((2, 0), (0, 1))
    assert _value(worker, "rally_slack_batch_items_count", kind="create") == singles + bulks
    assert _value(worker, "rally_slack_rally_request_seconds_count", tenant="127.0.0.1") >= 1
    assert _value(worker, "rally_slack_job_seconds_count", queue="rally-activities") == drains
    assert _value(worker, "rally_slack_redis_up") == 1
    for queue in ("rally-activities", "rally-notify", "rally-actions", "rally-reminders"):
        assert _value(worker, "rally_slack_queue_jobs", queue=queue, state="queued") == 0
        assert ("rally_slack_queue_oldest_job_age_seconds", (("queue", queue),)) in worker
    assert ("rally_slack_reminder_lag_seconds", ()) in worker
    # The creates ran in forked work horses (each calling Rally), yet they wrote under
    # their worker's identity plus "h": never a file per job.
    identities = {p.stem.rsplit("_", 1)[1] for p in stack["worker_files"].glob("*.db")}
    horses = {i for i in identities if i.endswith("h")}
    # (one identity per worker whose horses recorded: the creates' and the outcomes')
    assert 1 <= len(horses) <= 2, identities
    assert len(identities) <= 4, identities

    # A task an hour overdue that the sync indexes and no tick has reminded yet: the
    # reminder is that late (plus the lead, since it was due that long before the task).
    overdue = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    httpx.post(
        f"{rally_settings.rally_base_url}/api/v1/activities",
        headers={"X-Api-Key": DEV_API_KEY},
        json={"activityType": "task", "subject": "Overdue", "dueDate": overdue.isoformat()},
    ).raise_for_status()
    queues.enqueue_schedule(redis_conn, "workers.schedules.sync_job", queues.SYNC_JOB_ID)
    run_burst(redis_conn, [queues.REMINDERS], log_level="WARNING")
    lagging = _scrape(stack["worker_metrics"])
    lead = rally_settings.reminder_lead_minutes * 60
    assert 3600 + lead <= _value(lagging, "rally_slack_reminder_lag_seconds") < 3600 + lead + 120
    assert _value(lagging, "rally_slack_reminders_due") == 1

    # Not on the public port, which anyone on the internet reaches.
    assert httpx.get(f"{base}/metrics", timeout=5).status_code == 404

    stack["stop"]()
    lines = [
        json.loads(line)
        for log in stack["logs"]
        for line in log.read_text().splitlines()
        if line.strip()
    ]
    assert lines
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    assert any(
        line.get("team") == TEAM_ID
        and line.get("user") == "U0ALICE"
        and "enqueued" in line["message"]
        for line in lines
    ), "no line of the web says which team and user it is about"
    created = [line for line in lines if line["message"].startswith("event=activity_created")]
    assert len(created) == 2
    for line in created:
        assert line["job"].startswith("drain-create-") and line["team"] == TEAM_ID
        assert line["activity"] and line["queue"] == "rally-activities"
    everything = "\n".join(log.read_text() for log in stack["logs"])
    for secret in (BOT_TOKEN, SIGNING_SECRET, DEV_API_KEY, TEST_KEYS[0]):
        assert secret not in everything
