"""Redis restarted with its AOF in the middle of a run of submissions: a few seconds late,
nothing lost, nothing doubled.

Real processes throughout, as in production (README, Production): a private
``redis-server --appendonly yes --appendfsync everysec``, ``rally-slack web`` (gunicorn)
and ``rally-slack worker`` on the create and notify queues, the sandbox as the Activities
API (with latency, so the worker is busy with a create when Redis goes) and the fake Slack.
A steady stream of signed call-modal submissions runs while Redis is SIGTERMed (it writes
its AOF out and exits) and started again on the same port with the same AOF (it answers
``LOADING`` while it reads it back). A submission the web could not queue is refused in
the modal (``response_action: errors``, the person keeps what they typed); every one it
acknowledged must be created in Rally exactly once and told to its submitter once, and
the longest submit-to-told delay across the restart must be seconds, not RQ's ~90 s
abandoned-job timeout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from flask import Flask
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from core.settings import Settings
from devstack.fake_slack.payloads import (
    interactive_body,
    signed_headers,
    slash_command,
    state_values_for,
    view_submission,
)
from devstack.fake_slack.server import FakeSlack
from tests.fixtures.processes import Process
from tests.fixtures.redis import free_port
from tests.fixtures.sandbox import DEV_API_KEY
from tests.fixtures.slack import SIGNING_SECRET
from tests.fixtures.waiting import wait_until
from workers import queues
from workers.workspace import store_of

LATENCY_MS = 250  # each create holds the worker's horse, so one is in flight at the kill
RATE_PER_S = 4.0
BEFORE_S = 3.0  # submissions before the restart ...
AFTER_S = 4.0  # ... and after Redis answers again
AWAY_S = 10.0  # Redis stays away while the web refuses this many seconds of submissions
# (a restarted container or VM; longer than redis-py's default three retries ride out)
MAX_DELAY_S = 30.0  # generous for a loaded machine; RQ's abandoned-job path takes ~90 s

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server to restart one"
)


class AofRedis:
    """A ``redis-server`` with the README's production persistence, restartable in place."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "redis.log"

    def start(self) -> None:
        args = [
            str(shutil.which("redis-server")),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)),
            *("--save", "", "--appendonly", "yes", "--appendfsync", "everysec"),
            *("--logfile", str(self.log)),
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:  # refused, or LOADING while it reads its AOF
                return False

        wait_until(answers, timeout=30, interval=0.02)

    def stop(self) -> None:
        """SIGTERM: Redis's own shutdown, which flushes the AOF before it exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[AofRedis]:
    server = AofRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Stream:
    """Signed call-modal submissions at a steady rate, each answer recorded."""

    def __init__(self, url: str, view: dict[str, Any]) -> None:
        self.url = url
        self.view = view
        self.sent: dict[str, float] = {}
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="submissions", daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            start = time.monotonic()
            i = 0
            while not self.stop.is_set():
                subject = f"Restart call rr{i:04d}x"
                values = {"subject": subject, "outcome": "connected", "duration": "5"}
                view = {**self.view, "id": f"VRR{i:04d}"}
                body = interactive_body(view_submission(view, state_values_for(view, values)))
                self.sent[subject] = time.time()
                try:
                    response = client.post(
                        self.url, content=body, headers=signed_headers(body, SIGNING_SECRET)
                    )
                    answer = response.text.strip()
                    ok = response.status_code == 200 and answer in ("", "{}")
                    if not ok:  # refused in the modal, never a 5xx or a traceback
                        assert response.status_code == 200, (response.status_code, answer)
                        assert json.loads(answer)["response_action"] == "errors", answer
                except httpx.HTTPError:
                    ok = False
                (self.accepted if ok else self.refused).append(subject)
                i += 1
                pause = start + i / RATE_PER_S - time.monotonic()
                if pause > 0:
                    self.stop.wait(pause)


def _told(fake: FakeSlack) -> dict[str, list[float]]:
    """subject → when each confirmation naming it reached Slack."""
    seen: dict[str, list[float]] = {}
    sources = [
        (json.dumps(c.params), c.at)
        for c in fake.calls()
        if c.method.startswith("chat.") and c.response.get("ok")
    ]
    sources += [(json.dumps(p.body), p.at) for p in fake.response_posts() if p.status == 200]
    for text, at in sources:
        if "Logged" not in text:  # one call, or several told together
            continue
        named = set(re.findall(r"Restart call rr\d{4}x", text))  # in its text and blocks
        for subject in named:
            seen.setdefault(subject, []).append(at)
    return seen


def _created(api_url: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    offset = 0
    with httpx.Client(base_url=api_url, headers={"X-Api-Key": DEV_API_KEY}) as client:
        while True:
            page = client.get(
                "/api/v1/activities", params={"limit": 100, "offset": offset, "fields": "subject"}
            ).json()
            for item in page:
                counts[item["subject"]] = counts.get(item["subject"], 0) + 1
            if len(page) < 100:
                return counts
            offset += 100


def test_a_redis_restart_mid_run_costs_seconds_and_loses_or_doubles_nothing(
    rally_settings: Settings,
    fake_slack: FakeSlack,
    aof_redis: AofRedis,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    api_url = serve_app(make_sandbox_app(latency_ms=LATENCY_MS))
    store_of(rally_settings)  # the schema, before two gunicorn workers race to make it
    env = {**os.environ, "REDIS_URL": aof_redis.url, "RALLY_BASE_URL": api_url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    web = Process(
        ["web", "--port", str(web_port), "--host", "127.0.0.1", "--workers", "2"],
        env,
        tmp_path / "web.log",
    )
    worker = Process(
        ["worker", "--queue", queues.ACTIVITIES, "--queue", queues.NOTIFY],
        env,
        tmp_path / "worker.log",
    )
    conn = redis.Redis.from_url(aof_redis.url, socket_timeout=2)
    started = StartedJobRegistry(queues.ACTIVITIES, connection=conn, serializer=JSONSerializer)
    try:
        web.wait_answering(f"{base}/healthz")
        # The call modal, opened through the real door.
        before = len(fake_slack.calls("views.open"))
        body = slash_command(
            "call",
            user="U0ALICE",
            channel="C0SALES",
            trigger_id=fake_slack.new_trigger_id("U0ALICE"),
            response_url=fake_slack.new_response_url(channel="C0SALES", user="U0ALICE"),
        )
        opened = httpx.post(
            f"{base}/slack/events", content=body, headers=signed_headers(body, SIGNING_SECRET)
        )
        assert opened.status_code == 200, opened.text
        call = fake_slack.wait_until(
            lambda: (
                len(fake_slack.calls("views.open")) > before
                and fake_slack.calls("views.open")[before]
            )
        )
        stream = Stream(f"{base}/slack/events", dict(call.response["view"]))
        stream.thread.start()

        # Mid-run, while the worker's horse is inside a create: Redis goes (SIGTERM, AOF
        # flushed), stays away for about AWAY_S (counted in submissions the web refused), and
        # comes back on the same port from its AOF.
        wait_until(lambda: len(stream.accepted) >= BEFORE_S * RATE_PER_S, timeout=60)
        wait_until(lambda: started.get_job_ids(cleanup=False), timeout=30, interval=0.01)
        restart_at = time.time()
        aof_redis.stop()
        refused_before = len(stream.refused)
        wait_until(lambda: len(stream.refused) >= refused_before + AWAY_S * RATE_PER_S, timeout=60)
        aof_redis.start()
        back_at = time.time()
        accepted_when_back = len(stream.accepted)
        wait_until(
            lambda: len(stream.accepted) >= accepted_when_back + AFTER_S * RATE_PER_S,
            timeout=60,
        )
        stream.stop.set()
        stream.thread.join(timeout=30)

        accepted = list(stream.accepted)
        assert len(accepted) >= (BEFORE_S + AFTER_S) * RATE_PER_S
        assert stream.refused, "the web refused nothing while Redis was away"

        # Every acknowledged submission is created once and its submitter told once.
        def all_told() -> bool:
            told = _told(fake_slack)
            return all(s in told for s in accepted)

        wait_until(all_told, timeout=120, interval=0.2)
        created = _created(api_url)
        told = _told(fake_slack)
        assert {s: created.get(s, 0) for s in accepted} == dict.fromkeys(accepted, 1)
        assert {s: len(told[s]) for s in accepted} == dict.fromkeys(accepted, 1)
        # A refused one was never queued: nothing in Rally, nothing told.
        assert not [s for s in stream.refused if s in created or s in told]

        delays = {s: told[s][0] - stream.sent[s] for s in accepted}
        worst = max(delays, key=lambda s: delays[s])
        around = [d for s, d in delays.items() if stream.sent[s] >= restart_at - 5]
        print(
            "redis restart:",
            {
                "accepted": len(accepted),
                "refused": len(stream.refused),
                "redis_away_s": round(back_at - restart_at, 2),
                "max_submit_to_told_s": round(delays[worst], 2),
                "median_around_restart_s": round(sorted(around)[len(around) // 2], 2),
            },
        )
        assert delays[worst] < MAX_DELAY_S, (worst, delays[worst])

        # The worker lived through it: no child died and had to be restarted.
        assert "event=worker_died" not in worker.log.read_text()
    finally:
        stream_obj = locals().get("stream")
        if isinstance(stream_obj, Stream):
            stream_obj.stop.set()
        worker.stop()
        web.stop()
        conn.close()
