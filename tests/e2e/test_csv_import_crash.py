"""A worker SIGKILLed in the middle of an import: the import resumes and creates nothing
twice. Real processes: the click goes through the signed endpoint, a long-running
``rally-slack worker --queue rally-imports`` takes the job, and the sandbox commits the
second chunk but holds its answer, so the kill lands in the worst window (Rally has the
chunk, the worker never heard). RQ then recovers the abandoned job, as in
``test_worker_crash``, and the resumed run skips the recorded chunk, resends the lost one
with the same Idempotency-Key (replayed by the sandbox) and goes on."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from tests.e2e.harness import Rally
from tests.e2e.imports_support import Recorded, RecordingApi, csv_bytes
from tests.e2e.test_csv_import_slack import bot_messages, click, share
from tests.e2e.test_worker_crash import RALLY_SLACK, _dead, _kill_worker, _tree
from tests.fixtures.waiting import wait_until
from workers import queues
from workers.imports import progress


def test_a_worker_killed_mid_import_resumes_and_creates_each_row_once(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    committed, release = threading.Event(), threading.Event()

    def hold_second_chunk(seen: Recorded) -> None:
        second = seen.path.endswith("/bulk") and (seen.key or "").endswith("-1:0")
        if second and not committed.is_set():
            committed.set()
            release.wait(timeout=60)

    api = RecordingApi(make_sandbox_app(), before_answer=hold_second_chunk)
    rally.api_url = serve_app(api)
    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)

    data, _ = csv_bytes(250)
    message = share(rally, "crash.csv", data)
    dm = message["channel"]
    [preview] = bot_messages(rally, dm)
    click(rally, preview, dm, "U0ALICE")
    [raw_id] = rally.redis.lrange(f"rq:queue:{queues.IMPORTS}", 0, -1)
    job_id = raw_id.decode()
    import_id = job_id.removeprefix("import-")

    log_path = tmp_path / "worker.log"
    tree: dict[int, int] = {}
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [RALLY_SLACK, "worker", "--queue", queues.IMPORTS],
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert committed.wait(timeout=30), log_path.read_text()
        tree = _tree(worker.pid)
        assert len(set(tree.values())) >= 2, tree
        # Chunk 0 is recorded, chunk 1 is in Rally but not recorded: the worst window.
        assert progress.chunk_done(rally.redis, import_id, 0) is not None
        assert progress.chunk_done(rally.redis, import_id, 1) is None
        _kill_worker(tree)
    finally:
        _kill_worker(tree or {worker.pid: worker.pid})
        worker.wait(timeout=10)
        release.set()
    wait_until(lambda: _dead(tree), timeout=10.0)

    # The heartbeat's deadline and the dead run's lock pass (as test_worker_crash moves the
    # one score RQ reads), then RQ's own recovery runs in the real CLI.
    started = StartedJobRegistry(queues.IMPORTS, connection=rally.redis, serializer=JSONSerializer)
    [(_, execution_id)] = started.get_job_and_execution_ids(cleanup=False)
    assert (
        rally.redis.zadd(
            started.key, {f"{job_id}:{execution_id}": time.time() - 1}, xx=True, ch=True
        )
        == 1
    )
    rally.redis.delete(progress.lock_key(import_id))
    burst = subprocess.run(
        [RALLY_SLACK, "worker", "--burst"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert burst.returncode == 0, burst.stderr

    bulk = api.posts("bulk")
    by_key: dict[str | None, list[Recorded]] = {}
    for request in bulk:
        by_key.setdefault(request.key, []).append(request)
    # Chunk 0 once, chunk 1 twice (the second a replay), chunk 2 once; no single create.
    assert [len(by_key[f"import-{import_id}-{n}:0"]) for n in range(3)] == [1, 2, 1]
    assert [r.replayed for r in by_key[f"import-{import_id}-1:0"]] == [False, True]
    assert api.posts("create") == []
    subjects = [a["subject"] for a in rally.activities()]
    assert len(subjects) == 245 == len(set(subjects))
    final = next(m for m in rally.fake.messages(dm) if m["ts"] == preview["ts"])
    assert "245 created" in json.dumps(final)
