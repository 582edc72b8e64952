"""No outcome is lost when Slack is down: the notification is retried for as long as the
submission is kept, and if it still cannot be told, App Home shows it and an alert is logged."""

from __future__ import annotations

import json

import pytest

from core.settings import Settings
from devstack.fake_slack.payloads import app_home_opened, event_callback
from tests.e2e.harness import TEAM_ID, Rally
from workers import queues
from workers.state import SUBMISSION_TTL_SECONDS, State


def _ok_posts(rally: Rally) -> list[str]:
    return [json.dumps(p.body) for p in rally.fake.response_posts() if p.status == 200]


def test_the_default_policy_keeps_trying_for_as_long_as_the_submission_is_kept() -> None:
    retry = queues.notify_retry(Settings(_env_file=None))  # type: ignore[call-arg]
    waits = [retry.intervals[min(i, len(retry.intervals) - 1)] for i in range(retry.max)]
    assert sum(waits) >= SUBMISSION_TTL_SECONDS  # days, far beyond a 10-minute outage
    assert max(waits) <= 3600  # capped backoff: told within the hour once Slack is back
    assert retry.max > 3


def test_a_user_is_told_once_slack_recovers_from_a_long_outage(
    rally: Rally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_RETRY_INTERVALS", ",".join(["0"] * 40))
    view = rally.open_modal("call")
    assert rally.submit(view, {"subject": "Logged during the outage"}).status_code == 200
    rally.fake.outage(calls=50)  # every attempt costs two calls: 25 failed attempts
    rally.work()

    [activity] = rally.activities()
    assert activity["subject"] == "Logged during the outage"
    attempts = [c for c in rally.fake.calls("chat.postEphemeral") if c.status == 503]
    assert len(attempts) == 25  # eight times the old three retries, all refused
    assert [p.status for p in rally.fake.response_posts()].count(503) == 25
    told = [p for p in _ok_posts(rally) if "Logged during the outage" in p]
    assert len(told) == 1
    assert sum(rally.queued().values()) == 0


def test_when_slack_never_recovers_the_outcome_waits_on_app_home(
    rally: Rally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_RETRY_INTERVALS", "0,0,0")
    view = rally.open_modal("note")
    rally.submit(view, {"subject": "Nobody heard about this"})
    rally.fake.outage(calls=10_000)
    rally.work()
    rally.fake.outage(calls=0)

    [activity] = rally.activities()
    [kept] = State(rally.redis).undelivered(TEAM_ID, "U0ALICE")
    assert (kept["ok"], kept["activity_id"]) == (True, activity["id"])
    assert not _ok_posts(rally)

    rally.post(event_callback(app_home_opened("U0ALICE")))
    home = rally.fake.wait_until(lambda: rally.fake.home("U0ALICE"))
    shown = json.dumps(home)
    assert "While Slack was unreachable" in shown
    assert "Nobody heard about this" in shown
