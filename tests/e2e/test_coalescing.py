"""Coalesced creates (SPEC §8): what waits for one person goes to Rally as bulk requests.

Real doors throughout: signed ``/rally note`` commands through the Flask endpoint, burst
workers on the real queues, the sandbox on a real socket behind a counting proxy, the
fake Slack. A lone create still goes out at once as a single create; a burst goes out
as bulks of at most 100 per person, each member created once and its submitter told,
in one message per person per batch; a row Rally refuses is told to its submitter with
Edit and retry while the rest of the batch is created; a bulk whose answer was lost,
against a Rally that ignores the Idempotency-Key, is reconciled, not sent again.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from api_client import RallyClient
from sandbox.app import create_app
from sandbox.faults import Faults
from tests.e2e.harness import APP_URL, Rally
from tests.fixtures.sandbox import DEV_API_KEY, OTHER_API_KEY
from workers import lanes, outbox, queues
from workers.runner import run_burst

ACTIVITY_LINK = re.compile(re.escape(APP_URL) + r"/activities/([0-9a-f-]{36})")
REFUSED_SUBJECT = "Rally will refuse this one"


class Proxy:
    """In front of the sandbox: counts single and bulk creates (and their sizes), and can
    make Rally refuse one row (a ``priority`` it does not know, so the sandbox's own
    validation answers) or store a bulk and drop its answer (``drop_bulks``)."""

    def __init__(
        self,
        sandbox: Flask,
        *,
        drop_bulks: int = 0,
        lose_bulks: int = 0,
        drop_singles: int = 0,
        fail_lists: int = 0,
        fail_reads: int = 0,
    ) -> None:
        self.fail_reads = fail_reads  # reads of one activity answered 503
        self.drop_singles = drop_singles  # stored, then no answer
        self.fail_lists = fail_lists  # reconciling lists answered 503
        self.sandbox = sandbox
        self.singles = 0
        self.bulks: list[int] = []
        self.lists = 0
        self.drop_bulks = drop_bulks
        self.lose_bulks = lose_bulks  # closed unanswered before Rally saw them
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        with self._lock:
            if method == "POST" and path == "/api/v1/activities":
                self.singles += 1
                if self.drop_singles > 0:
                    self.drop_singles -= 1
                    environ["sandbox.drop_connection"] = True
            if self.fail_reads > 0 and method == "GET" and path.count("/") == 4:
                self.fail_reads -= 1
                start_response("503 Service Unavailable", [("Retry-After", "0")])
                return [b""]
            if self.fail_lists > 0 and "updatedSince" in environ.get("QUERY_STRING", ""):
                self.fail_lists -= 1
                self.lists += 1
                start_response("503 Service Unavailable", [("Retry-After", "0")])
                return [b""]
            if method == "POST" and path == "/api/v1/activities/bulk":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                items = json.loads(environ["wsgi.input"].read(length))
                self.bulks.append(len(items))
                for item in items:
                    if item.get("subject") == REFUSED_SUBJECT:
                        item["priority"] = "whenever"
                body = json.dumps(items).encode()
                environ["CONTENT_LENGTH"] = str(len(body))
                environ["wsgi.input"] = _Body(body)
                if self.lose_bulks > 0:
                    self.lose_bulks -= 1
                    environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)  # never stored
                    return []
                if self.drop_bulks > 0:
                    self.drop_bulks -= 1
                    environ["sandbox.drop_connection"] = True  # stored, then no answer
            if method == "GET" and "updatedSince" in environ.get("QUERY_STRING", ""):
                self.lists += 1
        return self.sandbox.wsgi_app(environ, start_response)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else self.at + size
        chunk, self.at = self.data[self.at : end], min(end, len(self.data))
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _serve(
    tmp_path: Path,
    serve_app: Callable[[Any], str],
    faults: Faults,
    *,
    drop_bulks: int = 0,
    lose_bulks: int = 0,
    **more: int,
) -> tuple[Proxy, str, str]:
    db = str(tmp_path / "rally.db")
    keys = [DEV_API_KEY, OTHER_API_KEY]
    app = create_app(db_path=db, api_keys=keys, faults=faults)
    proxy = Proxy(app, drop_bulks=drop_bulks, lose_bulks=lose_bulks, **more)
    return proxy, serve_app(proxy), serve_app(create_app(db_path=db, api_keys=keys))


def _stored(clean_url: str) -> list[dict[str, Any]]:
    with RallyClient(clean_url, DEV_API_KEY) as rally:
        return [a.model_dump(by_alias=True, mode="json") for a in rally.iter_activities()]


def _note(rally: Rally, subject: str, user: str, urls: dict[str, str]) -> None:
    url = rally.fake.new_response_url(channel="C0SALES", user=user)
    urls[url.rsplit("/", 1)[-1]] = user
    response = rally.command(f"note {subject}", user=user, response_url=url)
    assert response.status_code == 200, response.data


def _told(rally: Rally, urls: dict[str, str]) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """user -> activity ids their messages named (with repeats); and messages per user."""
    named: dict[str, Counter[str]] = {}
    messages: Counter[str] = Counter()
    for post in rally.fake.response_posts():
        user = urls[post.url_id]
        messages[user] += 1
        named.setdefault(user, Counter()).update(set(ACTIVITY_LINK.findall(json.dumps(post.body))))
    return named, messages


def test_a_burst_goes_out_in_bulks_per_person_and_each_submitter_is_told_once(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    proxy, api, clean = _serve(tmp_path, serve_app, Faults())
    monkeypatch.setenv("RALLY_BASE_URL", api)
    urls: dict[str, str] = {}
    plan = {"U0ALICE": 150, "U0BOB": 60}
    for user, count in plan.items():
        for n in range(count):
            _note(rally, f"{user} burst {n}", user, urls)
    assert len(lanes.waiting_items(rally.redis, "create")) == sum(plan.values())

    rally.work()

    stored = _stored(clean)
    assert Counter(a["subject"] for a in stored) == Counter(
        f"{u} burst {n}" for u, c in plan.items() for n in range(c)
    )
    # Bulks of at most 100, one person's each: 100 + 50 for Alice, 60 for Bob.
    assert proxy.singles == 0
    assert sorted(proxy.bulks) == [50, 60, 100]
    named, messages = _told(rally, urls)
    for user, count in plan.items():
        mine = {a["id"] for a in stored if a["subject"].startswith(user)}
        assert set(named[user]) == mine  # told of each of their own, and nobody else's
        assert all(n == 1 for n in named[user].values())  # once each
        assert messages[user] <= count // 100 + 1  # a message per batch, not per create
    assert rally.queued() == {name: 0 for name in queues.ALL_QUEUES}
    assert lanes.waiting_items(rally.redis, "create") == []


def test_a_lone_create_goes_out_at_once_as_a_single_create_with_its_own_confirmation(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    proxy, api, clean = _serve(tmp_path, serve_app, Faults())
    monkeypatch.setenv("RALLY_BASE_URL", api)
    urls: dict[str, str] = {}
    _note(rally, "Just one", "U0ALICE", urls)
    rally.work()
    [note] = _stored(clean)
    assert (proxy.singles, proxy.bulks) == (1, [])
    [post] = rally.fake.response_posts()
    text = json.dumps(post.body)
    assert note["id"] in text and "Delete" in text  # the single confirmation, with buttons


def test_a_row_rally_refuses_is_told_with_edit_and_retry_and_the_rest_are_created(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    proxy, api, clean = _serve(tmp_path, serve_app, Faults())
    monkeypatch.setenv("RALLY_BASE_URL", api)
    urls: dict[str, str] = {}
    for n in range(5):
        _note(rally, f"Fine note {n}", "U0ALICE", urls)
    _note(rally, REFUSED_SUBJECT, "U0ALICE", urls)
    rally.work()

    assert proxy.bulks == [6]
    assert sorted(a["subject"] for a in _stored(clean)) == [f"Fine note {n}" for n in range(5)]
    texts = [json.dumps(p.body) for p in rally.fake.response_posts()]
    [refusal] = [t for t in texts if "not logged" in t]
    assert REFUSED_SUBJECT in refusal and "riority" in refusal and "Edit and retry" in refusal
    named, _ = _told(rally, urls)
    assert len(named["U0ALICE"]) == 5


def test_a_bulk_whose_answer_is_lost_is_reconciled_not_sent_again(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    # A Rally that ignores the key: sending the batch again would store it twice.
    proxy, api, clean = _serve(tmp_path, serve_app, Faults(idempotency=False), drop_bulks=1)
    monkeypatch.setenv("RALLY_BASE_URL", api)
    monkeypatch.setenv("JOB_RETRY_INTERVALS", "0,0,0,0")
    urls: dict[str, str] = {}
    for n in range(30):
        _note(rally, f"Dropped bulk {n}", "U0ALICE", urls)
    _note(rally, "Said twice", "U0ALICE", urls)
    _note(rally, "Said twice", "U0ALICE", urls)
    rally.work()

    stored = _stored(clean)
    by_subject = Counter(a["subject"] for a in stored)
    assert by_subject["Said twice"] == 2 and len(stored) == 32  # none twice, none lost
    assert proxy.bulks == [32] and proxy.lists >= 1  # sent once, then reconciled
    named, _ = _told(rally, urls)
    assert set(named["U0ALICE"]) == {a["id"] for a in stored}
    claims = [rally.redis.get(k) for k in rally.redis.scan_iter(match="rally:adopted:*")]
    assert len(claims) == len(set(claims)) == 32  # one owner per activity


def test_one_persons_messages_are_paced_to_about_one_a_second_after_a_short_burst(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    _, api, clean = _serve(tmp_path, serve_app, Faults())
    monkeypatch.setenv("RALLY_BASE_URL", api)
    urls: dict[str, str] = {}
    for n in range(outbox.PACE_BURST):  # told one by one, at once: the burst Slack allows
        _note(rally, f"Paced {n}", "U0ALICE", urls)
        rally.work()
    assert len(rally.fake.response_posts()) == outbox.PACE_BURST
    # Two more, created one after the other while the person may not be told yet: they
    # wait, and go out together, about a second after the burst began.
    for n in (3, 4):
        _note(rally, f"Paced {n}", "U0ALICE", urls)
        run_burst(rally.redis, [queues.ACTIVITIES], log_level="WARNING")
    rally.work()  # waits for the paced message (a short wait, not a retry)

    posts = rally.fake.response_posts()
    assert len(posts) == outbox.PACE_BURST + 1
    last = json.dumps(posts[-1].body)
    assert "Paced 3" in last and "Paced 4" in last
    assert posts[-1].at - posts[0].at >= outbox.PACE_SECONDS * 0.9
    named, _ = _told(rally, urls)
    assert set(named["U0ALICE"]) == {a["id"] for a in _stored(clean)}


@pytest.mark.parametrize("stored_at_last", [False, True], ids=["never-stored", "stored-last"])
def test_a_batch_that_never_got_an_answer_is_looked_for_once_more_before_anyone_is_told(
    stored_at_last: bool,
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    serve_app: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    # JOB_RETRY_INTERVALS="0": two runs of three unanswered sends each, then the batch
    # gives up. Each send closed before Rally saw it; with "stored-last" the sixth is
    # stored and only its answer lost.
    lost = 6 - int(stored_at_last)
    proxy, api, clean = _serve(
        tmp_path,
        serve_app,
        Faults(idempotency=False),
        lose_bulks=lost,
        drop_bulks=int(stored_at_last),
    )
    monkeypatch.setenv("RALLY_BASE_URL", api)
    monkeypatch.setenv("JOB_RETRY_INTERVALS", "0")
    urls: dict[str, str] = {}
    for n in range(4):
        _note(rally, f"Unanswered {n}", "U0ALICE", urls)
    rally.work()

    assert len(proxy.bulks) == 6
    stored = _stored(clean)
    texts = [json.dumps(p.body) for p in rally.fake.response_posts()]
    if stored_at_last:
        # Found in Rally by the last look: told as logged, not "try again" (a duplicate).
        assert len(stored) == 4
        named, _ = _told(rally, urls)
        assert set(named["U0ALICE"]) == {a["id"] for a in stored}
        assert not [t for t in texts if "not logged" in t]
    else:
        assert stored == []
        refusals = [t for t in texts if "not logged" in t]
        assert len(refusals) == 4
        assert all("may have logged it" in t and "Edit and retry" in t for t in refusals)


def test_a_lone_create_stored_but_unanswered_whose_retries_ran_out_is_found_not_redone(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    # Stored, answer lost; then every reconciling list of its retries refused (503: four
    # tries in each list call, two runs: JOB_RETRY_INTERVALS="0" is one retry) until the
    # retries are spent. The last look finds it.
    proxy, api, clean = _serve(
        tmp_path, serve_app, Faults(idempotency=False), drop_singles=1, fail_lists=8
    )
    monkeypatch.setenv("RALLY_BASE_URL", api)
    monkeypatch.setenv("JOB_RETRY_INTERVALS", "0")
    urls: dict[str, str] = {}
    _note(rally, "Stored but unanswered", "U0ALICE", urls)
    rally.work()

    [note] = _stored(clean)
    assert proxy.singles == 1 and proxy.lists == 9  # eight refused, then the last look
    texts = [json.dumps(p.body) for p in rally.fake.response_posts()]
    assert not [t for t in texts if "not logged" in t]  # not told to try again
    named, _ = _told(rally, urls)
    assert set(named["U0ALICE"]) == {note["id"]}


def test_a_lone_create_found_in_rally_is_told_as_logged_even_if_reading_it_back_fails(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, serve_app: Callable[[Any], str], tmp_path: Path
) -> None:
    # Stored, answer lost; the reconciling list finds it, and every read of it fails.
    proxy, api, clean = _serve(
        tmp_path, serve_app, Faults(idempotency=False), drop_singles=1, fail_reads=100
    )
    monkeypatch.setenv("RALLY_BASE_URL", api)
    monkeypatch.setenv("JOB_RETRY_INTERVALS", "0")
    urls: dict[str, str] = {}
    _note(rally, "Found but unreadable", "U0ALICE", urls)
    rally.work()

    [note] = _stored(clean)
    assert proxy.singles == 1 and proxy.fail_reads < 100  # a read was tried, and failed
    texts = [json.dumps(p.body) for p in rally.fake.response_posts()]
    assert not [t for t in texts if "not logged" in t]
    named, _ = _told(rally, urls)
    assert set(named["U0ALICE"]) == {note["id"]}
