"""A worker SIGKILLed in the middle of a create loses nothing and doubles nothing.

Real processes throughout: the submission goes through the signed Flask endpoint, a
long-running ``rally-slack worker --queue rally-activities`` picks the job up, and the
sandbox (on a real socket, with latency) commits the activity but holds its response, so
the kill lands in the worst window: Rally has the activity, the worker never learned it
(the "lost response"). Then, as RQ does it, the abandoned job is recovered once its
heartbeat has expired and a maintenance pass runs (here: ``rally-slack worker --burst``),
and the retry, knowing an attempt went unanswered, reconciles: it finds the activity in
Rally and adopts it instead of sending the create again (``workers.delivery``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from tests.e2e.harness import Rally
from tests.fixtures.waiting import wait_until
from workers import lanes, queues

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))
LATENCY_MS = 300


class HoldFirstCreate:
    """The sandbox, but the first create's response is held until the test releases it.

    The sandbox handles (and commits) the POST in full; only the bytes of the answer wait,
    so a worker killed meanwhile has created the activity without ever hearing of it.
    Every create's Idempotency-Key and answer are recorded.
    """

    def __init__(self, sandbox: Flask) -> None:
        self.sandbox = sandbox
        self.committed = threading.Event()
        self.release = threading.Event()
        self.creates: list[dict[str, Any]] = []
        self.lists: list[str] = []  # query strings of reconciling lists (updatedSince)
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if environ["REQUEST_METHOD"] == "GET" and "updatedSince" in query:
            with self._lock:
                self.lists.append(query)
        creating = environ["PATH_INFO"] in ("/api/v1/activities", "/api/v1/activities/bulk")
        if environ["REQUEST_METHOD"] != "POST" or not creating:
            return self.sandbox.wsgi_app(environ, start_response)
        seen: dict[str, Any] = {
            "key": environ.get("HTTP_IDEMPOTENCY_KEY"),
            "path": environ["PATH_INFO"],
        }

        def recording_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen["status"] = int(status.split()[0])
            seen["replayed"] = dict(headers).get("Idempotent-Replayed") == "true"
            return start_response(status, headers, *exc)

        body = b"".join(self.sandbox.wsgi_app(environ, recording_start_response))
        with self._lock:
            self.creates.append(seen)
            first = len(self.creates) == 1
        if first:
            self.committed.set()
            self.release.wait(timeout=30)  # nothing is sent until the body is returned
        return [body]


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid → (ppid, pgid, state) of every process, from /proc."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid, pgid = stat.rsplit(")", 1)[1].split()[:3]
        table[int(entry)] = (int(ppid), int(pgid), state)
    return table


def _tree(root: int) -> dict[int, int]:
    """pid → pgid of ``root`` and all its descendants."""
    table = _processes()
    found = {root: table[root][1]} if root in table else {}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, pgid, _state) in table.items():
            if ppid in found and pid not in found:
                found[pid] = pgid
                grew = True
    return found


def _dead(pids: Iterable[int]) -> bool:
    table = _processes()
    return all(pid not in table or table[pid][2] in ("Z", "X") for pid in pids)


def _kill_worker(tree: dict[int, int]) -> None:
    """SIGKILL every process group of the worker's tree: the supervisor's (supervisor, the
    queue's Worker and its scheduler) and the work horse's, which RQ puts in a group of its
    own (``os.setpgrp()`` in ``rq.worker.worker_classes.Worker.fork_work_horse``)."""
    for pgid in set(tree.values()):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.mark.parametrize("honours_key", [True, False], ids=["honours-key", "ignores-key"])
def test_a_worker_killed_after_rally_committed_the_create_yields_one_activity_and_one_confirmation(
    honours_key: bool,
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    api = HoldFirstCreate(make_sandbox_app(latency_ms=LATENCY_MS, idempotency=honours_key))
    rally.api_url = serve_app(api)
    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    # 1. A signed modal submission through the real endpoint queues one create.
    view = rally.open_modal("call")
    response = rally.submit(
        view, {"subject": "Call cut short by a crash", "duration": "7", "outcome": "connected"}
    )
    assert response.status_code == 200
    [raw_id] = rally.redis.lrange(f"rq:queue:{queues.ACTIVITIES}", 0, -1)
    job_id = raw_id.decode()  # the drainer of the submitter's lane (workers/coalesce.py)
    [queued] = lanes.waiting_items(rally.redis, "create")
    started = StartedJobRegistry(
        queues.ACTIVITIES, connection=rally.redis, serializer=JSONSerializer
    )

    # 2. A real long-running worker takes it; the sandbox commits, and the worker is killed
    #    (supervisor, worker and work horse) before the answer reaches it.
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [RALLY_SLACK, "worker", "--queue", queues.ACTIVITIES],
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the test can kill all of it
        )
    tree: dict[int, int] = {}
    try:
        assert api.committed.wait(timeout=10), log_path.read_text()
        timings["submit_to_committed"] = time.monotonic() - t0
        tree = _tree(worker.pid)
        # The horse runs in a process group of its own: killing the worker's group alone
        # would leave it running (and it would finish the job, which is not a crash).
        assert len(set(tree.values())) >= 2, tree
        job = Job.fetch(job_id, connection=rally.redis, serializer=JSONSerializer)
        assert job.get_status() == "started"
        assert [j for j, _ in started.get_job_and_execution_ids(cleanup=False)] == [job_id]
        assert len(rally.activities()) == 1  # committed in Rally ...
        _kill_worker(tree)
    finally:
        _kill_worker(tree or {worker.pid: worker.pid})
        worker.wait(timeout=10)
        api.release.set()  # ... and its answer goes to a dead socket
    wait_until(lambda: _dead(tree), timeout=10.0)
    timings["killed"] = time.monotonic() - t0

    # Nothing recorded the outcome: the job is still "started", nobody was told.
    job = Job.fetch(job_id, connection=rally.redis, serializer=JSONSerializer)
    assert job.get_status() == "started"
    assert rally.queued() == {name: 0 for name in queues.ALL_QUEUES}
    assert not any("Logged call" in t for t in rally.shown_to())

    # While its heartbeat is current the job may still belong to a live worker: a burst
    # pass must leave it alone (re-running it now could run it twice at once).
    rally.work()
    assert job.get_status() == "started"
    assert len(api.creates) == 1

    # 3. Let the heartbeat expire. RQ decides a job is abandoned from one number only: its
    #    entry's score in the StartedJobRegistry, the deadline its worker's heartbeat keeps
    #    pushing forward (now + min(timeout, job_monitoring_interval) + 60 s, i.e. 90 s
    #    here; rq.executions.Execution.heartbeat, rq.worker.base.get_heartbeat_ttl).
    #    StartedJobRegistry.cleanup takes the entries with a score below now
    #    (get_expired_job_ids) whose job is still STARTED. Moving that one score into the
    #    past is exactly the passing of those 90 s for this entry and nothing else; every
    #    step after it is RQ's own code, run by the real CLI.
    [(_, execution_id)] = started.get_job_and_execution_ids(cleanup=False)
    moved = rally.redis.zadd(
        started.key, {f"{job_id}:{execution_id}": time.time() - 1}, xx=True, ch=True
    )
    assert moved == 1

    burst = subprocess.run(
        [RALLY_SLACK, "worker", "--burst"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    timings["burst"] = time.monotonic() - t0 - timings["killed"]
    assert burst.returncode == 0, burst.stderr

    # 4. One activity. The killed attempt was sent and never answered, so the retry
    #    looked before sending again (SPEC §8: the seed does not promise to honour the
    #    Idempotency-Key): it listed what changed since just before the first attempt and
    #    adopted the activity the dead worker had created, with no second POST.
    [activity] = rally.activities()
    assert (activity["subject"], activity["callDurationSeconds"]) == (
        "Call cut short by a crash",
        420,
    )
    assert [(c["key"], c["path"]) for c in api.creates] == [
        (f"slack-{queued['sub']}", "/api/v1/activities")
    ]
    assert [(c["status"], c["replayed"]) for c in api.creates] == [(201, False)]
    assert len(api.lists) == 1, (burst.stdout[-3000:], burst.stderr[-3000:])
    [query] = api.lists
    # From just before the dead worker's first attempt: kept in Redis, read by the retry.
    [since] = urllib.parse.parse_qs(query)["updatedSince"]
    assert datetime.fromisoformat(since) <= datetime.fromisoformat(activity["createdAt"])

    # The drainer went through RQ's retry path (the same job, so it took its lane's hold
    # straight back), finished the batch it had formed, and is gone (result_ttl=0).
    assert lanes.waiting_items(rally.redis, "create") == []
    assert started.get_job_ids(cleanup=False) == []
    assert FailedJobRegistry(queues.ACTIVITIES, connection=rally.redis).get_job_ids() == []
    assert rally.queued() == {name: 0 for name in queues.ALL_QUEUES}

    # The user was told once, where they started.
    told = [p.body for p in rally.fake.response_posts()]
    confirmations = [b for b in told if "Logged call" in json.dumps(b)]
    assert len(confirmations) == 1, told
    assert "Call cut short by a crash" in json.dumps(confirmations[0])
    assert not any("not logged" in json.dumps(b) for b in told)

    timings["total"] = time.monotonic() - t0
    print("timings:", {k: round(v, 2) for k, v in timings.items()})


@pytest.mark.parametrize("honours_key", [True, False], ids=["honours-key", "ignores-key"])
def test_a_worker_killed_mid_bulk_leaves_a_batch_the_next_worker_finishes_once(
    honours_key: bool,
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    """Three calls waiting together are one bulk (workers/coalesce.py); Rally stores it,
    the worker dies before the answer, and the re-run finishes that same batch: each call
    once in Rally, whether or not Rally honours the batch's Idempotency-Key."""
    api = HoldFirstCreate(make_sandbox_app(latency_ms=LATENCY_MS, idempotency=honours_key))
    rally.api_url = serve_app(api)
    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)
    subjects = [f"Bulk call {n} cut short" for n in range(3)]
    for subject in subjects:
        view = rally.open_modal("call")
        response = rally.submit(view, {"subject": subject, "duration": "3", "outcome": "connected"})
        assert response.status_code == 200
    [raw_id] = rally.redis.lrange(f"rq:queue:{queues.ACTIVITIES}", 0, -1)
    job_id = raw_id.decode()
    started = StartedJobRegistry(
        queues.ACTIVITIES, connection=rally.redis, serializer=JSONSerializer
    )

    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [RALLY_SLACK, "worker", "--queue", queues.ACTIVITIES],
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    tree: dict[int, int] = {}
    try:
        assert api.committed.wait(timeout=10), log_path.read_text()
        tree = _tree(worker.pid)
        assert len(set(tree.values())) >= 2, tree
        assert len(rally.activities()) == 3  # the bulk is stored ...
        [batch] = [
            json.loads(v)
            for k in rally.redis.scan_iter(match="rally:lane:create:*:batch")
            if (v := rally.redis.get(k)) is not None
        ]
        assert batch["state"]["unanswered"] and len(batch["items"]) == 3  # kept before sending
        _kill_worker(tree)
    finally:
        _kill_worker(tree or {worker.pid: worker.pid})
        worker.wait(timeout=10)
        api.release.set()  # ... and its answer goes to a dead socket
    wait_until(lambda: _dead(tree), timeout=10.0)

    # The heartbeat's deadline passes (see the test above), and a maintenance pass runs.
    [(_, execution_id)] = started.get_job_and_execution_ids(cleanup=False)
    rally.redis.zadd(started.key, {f"{job_id}:{execution_id}": time.time() - 1}, xx=True)
    burst = subprocess.run(
        [RALLY_SLACK, "worker", "--burst"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert burst.returncode == 0, burst.stderr

    stored = rally.activities()
    assert sorted(a["subject"] for a in stored) == sorted(subjects)  # once each
    # One bulk, never sent again: the re-run found it in Rally (reconciled) and adopted it.
    assert [(c["key"], c["path"]) for c in api.creates] == [
        (f"batch-{batch['id']}:0", "/api/v1/activities/bulk")
    ]
    assert len(api.lists) == 1
    assert lanes.waiting_items(rally.redis, "create") == []
    told = " ".join(json.dumps(p.body) for p in rally.fake.response_posts())
    assert all(a["id"] in told for a in stored)
    assert "not logged" not in told
