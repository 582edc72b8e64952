"""Exactly once against a Rally that ignores ``Idempotency-Key`` (SPEC §8).

Real processes throughout: signed ``/rally note`` commands through the Flask endpoint,
two long-running ``rally-slack worker --queue rally-activities`` and one for
``rally-notify``, the fake Slack, and the sandbox on a real socket with
``idempotency=False`` and commit-then-drop faults (it stores the activity, then closes
the connection with no answer). A create that went unanswered is reconciled before any
retry (``workers.delivery``): adopted when Rally has it, sent again only when it has not.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from api_client import RallyClient
from devstack.fake_slack.payloads import event_callback
from sandbox.app import create_app
from sandbox.faults import Faults
from slack_ui import ids
from tests.e2e.harness import APP_URL, Rally
from tests.fixtures.sandbox import DEV_API_KEY, OTHER_API_KEY
from tests.fixtures.waiting import wait_until
from workers import queues

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))
ACTIVITY_LINK = re.compile(re.escape(APP_URL) + r"/activities/([0-9a-f-]{36})")


class Counting:
    """A WSGI app in front of the sandbox that counts creates and reconciling lists, and
    (``drop_creates``) stores every create, then drops its connection unanswered."""

    def __init__(self, sandbox: Flask, *, drop_creates: bool = False, drop_bulks: int = 0) -> None:
        self.sandbox = sandbox
        self.drop_creates = drop_creates
        self.drop_bulks = drop_bulks
        self.creates = 0
        self.lists = 0
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        with self._lock:
            if method == "POST" and path == "/api/v1/activities":
                self.creates += 1
                if self.drop_creates:
                    environ["sandbox.drop_connection"] = True  # the sandbox's own fault
            if method == "POST" and path == "/api/v1/activities/bulk" and self.drop_bulks > 0:
                self.drop_bulks -= 1
                environ["sandbox.drop_connection"] = True
            if method == "GET" and "updatedSince" in environ.get("QUERY_STRING", ""):
                self.lists += 1
        return self.sandbox.wsgi_app(environ, start_response)


@pytest.fixture
def run_workers(tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Start real ``rally-slack worker`` processes; stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*queue_names: str) -> None:
        for name in queue_names:
            log = (tmp_path / f"worker-{len(started)}.log").open("w")
            started.append(
                subprocess.Popen(
                    [RALLY_SLACK, "worker", "--queue", name],
                    env=dict(os.environ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _serve_sandbox(
    tmp_path: Path,
    serve_app: Callable[[Any], str],
    faults: Faults,
    *,
    drop_creates: bool = False,
    drop_bulks: int = 0,
) -> tuple[Counting, str]:
    """The faulty sandbox the workers call, and a well-behaved one on the same database
    for the test to read from."""
    db = str(tmp_path / "rally.db")
    keys = [DEV_API_KEY, OTHER_API_KEY]
    api = Counting(
        create_app(db_path=db, api_keys=keys, faults=faults),
        drop_creates=drop_creates,
        drop_bulks=drop_bulks,
    )
    serve_app(api)
    clean = serve_app(create_app(db_path=db, api_keys=keys))
    return api, clean


def _stored(clean_url: str) -> list[dict[str, Any]]:
    with RallyClient(clean_url, DEV_API_KEY) as rally:
        return [a.model_dump(by_alias=True, mode="json") for a in rally.iter_activities()]


def _confirmations(rally: Rally) -> dict[str, list[str]]:
    """response URL id -> the activity ids its confirmations named ("FAILED" for a refusal).

    Creates waiting together are told together: one message, to the response URL of the
    newest of them, names each (``workers.outbox``)."""
    told: dict[str, list[str]] = {}
    for post in rally.fake.response_posts():
        text = json.dumps(post.body)
        if "not logged" in text:
            told.setdefault(post.url_id, []).append("FAILED")
        for activity_id in sorted(set(ACTIVITY_LINK.findall(text))):
            told.setdefault(post.url_id, []).append(activity_id)
    return told


def _named(rally: Rally) -> list[str]:
    return [i for ids_ in _confirmations(rally).values() for i in ids_]


SUBMITTERS: dict[str, str] = {}
"""response URL id -> who submitted through it (filled by :func:`_note`)."""


def _note(rally: Rally, subject: str, user: str = "U0ALICE") -> str:
    """``/rally note <subject>``; returns its response URL's id."""
    url = rally.fake.new_response_url(channel="C0SALES", user=user)
    response = rally.command(f"note {subject}", user=user, response_url=url)
    assert response.status_code == 200, response.data
    SUBMITTERS[url.rsplit("/", 1)[-1]] = user
    return url.rsplit("/", 1)[-1]


def test_chaos_against_a_rally_ignoring_the_key_creates_each_once_and_tells_everyone(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    serve_app: Callable[[Any], str],
    run_workers: Callable[..., None],
    tmp_path: Path,
) -> None:
    faults = Faults(idempotency=False, drop_rate=0.15, fail_rate=0.1, seed=13)
    # Queued before the workers start, each person's notes go out as one bulk: the first
    # two are stored and their answers dropped, so reconciling is certain to be tried.
    api, clean = _serve_sandbox(tmp_path, serve_app, faults, drop_bulks=2)
    monkeypatch.setenv("RALLY_BASE_URL", serve_app(api))
    monkeypatch.setenv("JOB_RETRY_INTERVALS", "0,0,0,0")
    users = ("U0ALICE", "U0BOB", "U0CAROL")
    subjects: dict[str, str] = {}
    for n in range(80):
        subject = f"Chaos note {n}"
        subjects[_note(rally, subject, users[n % len(users)])] = subject
    # The same note twice from the same person: two submissions, two activities.
    for _ in range(2):
        subjects[_note(rally, "Said twice")] = "Said twice"

    run_workers(queues.ACTIVITIES, queues.ACTIVITIES, queues.NOTIFY)
    wait_until(lambda: len(_named(rally)) >= len(subjects), timeout=120, interval=0.2)

    stored = _stored(clean)
    by_subject = Counter(a["subject"] for a in stored)
    assert by_subject["Said twice"] == 2
    assert {s: c for s, c in by_subject.items() if s != "Said twice" and c != 1} == {}
    assert len(stored) == len(subjects)  # 0 duplicated, 0 lost
    named = _named(rally)
    assert "FAILED" not in named
    # Each activity was told once, and to whoever submitted its subject.
    assert sorted(named) == sorted(a["id"] for a in stored)
    submitter_of = {subject: SUBMITTERS[url] for url, subject in subjects.items()}
    for url, ids_ in _confirmations(rally).items():
        for activity_id in ids_:
            subject = next(a["subject"] for a in stored if a["id"] == activity_id)
            assert submitter_of[subject] == SUBMITTERS[url]
    assert api.lists > 0  # faults happened, and were reconciled
    assert rally.queued() == {name: 0 for name in queues.ALL_QUEUES}


def test_two_identical_notes_whose_creates_go_unanswered_each_adopt_their_own_activity(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    serve_app: Callable[[Any], str],
    run_workers: Callable[..., None],
    tmp_path: Path,
) -> None:
    api, clean = _serve_sandbox(tmp_path, serve_app, Faults(idempotency=False), drop_creates=True)
    monkeypatch.setenv("RALLY_BASE_URL", serve_app(api))
    # One at a time, so each is a lone create (two waiting together would be one bulk,
    # which tests/e2e/test_coalescing.py covers).
    first = _note(rally, "Follow up with Acme")
    rally.work()
    second = _note(rally, "Follow up with Acme")
    rally.work()
    told = _confirmations(rally)

    stored = _stored(clean)
    assert [a["subject"] for a in stored] == ["Follow up with Acme"] * 2
    assert api.creates == 2  # each sent once, never again: adopted after the drop
    assert api.lists >= 2
    assert sorted(told[first] + told[second]) == sorted(a["id"] for a in stored)
    claims = {
        rally.redis.get(key).decode() for key in rally.redis.scan_iter(match="rally:adopted:*")
    }
    assert len(claims) == 2  # one owner per activity, a different one each


def test_a_rally_that_answers_is_asked_nothing_more_than_the_creates(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    api, clean = _serve_sandbox(tmp_path, serve_app, Faults())
    monkeypatch.setenv("RALLY_BASE_URL", serve_app(api))
    for n in range(3):
        _note(rally, f"Plain note {n}")
        rally.work()
    assert len(_stored(clean)) == 3
    assert (api.creates, api.lists) == (3, 0)


def test_a_workflow_step_whose_create_goes_unanswered_logs_once_and_ends_with_it(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    api, clean = _serve_sandbox(tmp_path, serve_app, Faults(idempotency=False), drop_creates=True)
    monkeypatch.setenv("RALLY_BASE_URL", serve_app(api))
    event = {
        "type": ids.FUNCTION_EXECUTED,
        "function": {"id": "Fn0RALLY", "callback_id": ids.LOG_ACTIVITY_STEP, "title": "x"},
        "inputs": {"subject": "Logged by a workflow"},
        "function_execution_id": "Fx0DROPPED",
        "workflow_execution_id": "Wx0RUN",
        "bot_access_token": "xwfp-test-step-token-not-real",
        "event_ts": f"{time.time():.6f}",
    }
    assert rally.post(event_callback(event)).status_code == 200
    rally.work()
    [note] = _stored(clean)
    assert api.creates == 1 and api.lists == 1
    assert rally.fake.ended_step("Fx0DROPPED") == {
        "outputs": {"activity_id": note["id"], "activity_url": f"{APP_URL}/activities/{note['id']}"}
    }
