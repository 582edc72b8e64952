"""Channel digests through the public door: ``/rally digest`` signed, tasks created in the
sandbox, ``rally-slack remind --once --now`` (in-process and as two concurrent
processes), the digest's buttons clicked and the digest redrawn (SPEC §7)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cli.main import main as rally_slack
from devstack.fake_slack.payloads import block_actions
from slack_ui.ids import COMPLETE_ACTION, DIGEST_ROW_BLOCK_PREFIX
from tests.e2e.harness import DEAL_ID, TEAM_ID, Rally
from tests.e2e.reminders_support import RALLY_SLACK, api, cli_env, get_task

ALICE_TZ = ZoneInfo("America/Los_Angeles")  # the fake workspace's Alice


def _working_day_after(day: datetime, days: int = 1) -> datetime:
    while True:
        day += timedelta(days=days)
        if day.weekday() < 5:
            return day


def _next_working_morning() -> datetime:
    """A working day after today on Alice's clock, at 00:00 (a moment every test owns)."""
    today = datetime.now(ALICE_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return _working_day_after(today)


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def _task(rally: Rally, subject: str, due: datetime, **fields: Any) -> dict[str, Any]:
    body = {"activityType": "task", "subject": subject, "dueDate": _iso(due), **fields}
    return dict(api(rally, "POST", "", json=body))


def _remind_at(moment: datetime) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert rally_slack(["remind", "--once", "--now", _iso(moment)]) == 0
    return out.getvalue().strip()


def _digests(rally: Rally, channel: str = "C0ACME") -> list[dict[str, Any]]:
    return [
        message
        for message in rally.fake.messages(channel)
        if ":sunrise: *Today for" in json.dumps(message.get("blocks", []))
    ]


def _digest_buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Task id → its Complete button, for every task row of a digest still with buttons."""
    found = {}
    for block in message.get("blocks", []):
        block_id = str(block.get("block_id") or "")
        if block.get("type") == "actions" and block_id.startswith(DIGEST_ROW_BLOCK_PREFIX):
            for element in block["elements"]:
                if element["action_id"] == COMPLETE_ACTION:
                    found[block_id.removeprefix(DIGEST_ROW_BLOCK_PREFIX)] = {
                        "block_id": block_id,
                        **element,
                    }
    return found


def _turn_on(rally: Rally, text: str = "digest on 08:30", channel: str = "C0ACME") -> str:
    response = rally.command(text, channel=channel)
    assert response.status_code == 200, response.data
    return response.get_data(as_text=True)


def test_a_linked_channel_gets_one_digest_a_day_with_buttons_that_work(rally: Rally) -> None:
    assert rally.command(f"link deal {DEAL_ID}", channel="C0ACME").status_code == 200
    response = rally.command("digest on 08:30", channel="C0ACME")
    answer = response.get_json()
    assert answer["response_type"] == "in_channel"  # the channel hears of it
    assert "turned on a daily digest" in answer["text"]
    assert "08:30 (America/Los_Angeles)" in answer["text"]

    day = _next_working_morning()
    overdue = _task(rally, "Send the MSA", day - timedelta(hours=20), dealId=DEAL_ID)
    today = _task(rally, "Pricing call prep", day + timedelta(hours=15), dealId=DEAL_ID)
    _task(rally, "Next week's QBR", day + timedelta(days=1, hours=10), dealId=DEAL_ID)
    _task(rally, "Another deal's task", day + timedelta(hours=11))  # not on the deal

    assert "digests 0" in _remind_at(day + timedelta(hours=8, minutes=29))  # not yet
    assert _digests(rally) == []
    assert "digests 1" in _remind_at(day + timedelta(hours=8, minutes=31))
    assert "digests 0" in _remind_at(day + timedelta(hours=9))  # once a day

    [digest] = _digests(rally)
    shown = json.dumps(digest["blocks"])
    assert "Send the MSA" in shown and "Pricing call prep" in shown
    assert "QBR" not in shown and "Another deal" not in shown
    assert shown.index("Send the MSA") < shown.index("Pricing call prep")  # soonest first
    assert "1 overdue, 1 due today" in shown
    buttons = _digest_buttons(digest)
    assert set(buttons) == {overdue["id"], today["id"]}

    # A click on a digest the app never posted (a forged ts) changes nothing.
    forged = {**digest, "ts": "1700000000.999999"}
    rally.interact(
        block_actions(buttons[overdue["id"]], user="U0BOB", channel="C0ACME", message=forged)
    )
    rally.work()
    assert get_task(rally, overdue["id"])["status"] == "pending"

    response = rally.interact(
        block_actions(
            buttons[overdue["id"]],
            user="U0BOB",
            channel="C0ACME",
            message=digest,
            response_url=rally.fake.new_response_url(channel="C0ACME", user="U0BOB"),
        )
    )
    assert response.status_code == 200
    rally.work()
    assert get_task(rally, overdue["id"])["status"] == "completed"
    [redrawn] = _digests(rally)
    assert redrawn["ts"] == digest["ts"]  # updated in place
    assert set(_digest_buttons(redrawn)) == {today["id"]}
    assert "Completed by <@U0BOB>" in json.dumps(redrawn["blocks"])

    # The next working day, two schedulers at once: one digest between them.
    next_day = _working_day_after(day) + timedelta(hours=8, minutes=45)
    procs = [
        subprocess.Popen(
            [RALLY_SLACK, "remind", "--once", "--now", _iso(next_day)],
            env=cli_env(rally),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    posted = sum(int(out.split("digests ")[1].split(",")[0]) for out, _ in outputs)
    assert posted == 1, outputs
    assert len(_digests(rally)) == 2


def test_nothing_is_posted_on_an_empty_day_or_at_the_weekend(rally: Rally) -> None:
    assert rally.command(f"link deal {DEAL_ID}", channel="C0ACME").status_code == 200
    _turn_on(rally, "digest on")  # 09:00
    day = _next_working_morning()
    assert "digests 0" in _remind_at(day + timedelta(hours=9, minutes=1))
    assert _digests(rally) == []

    saturday = day
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    _task(rally, "Weekend-proof follow-up", saturday - timedelta(days=1), dealId=DEAL_ID)
    assert "digests 0" in _remind_at(saturday + timedelta(hours=9, minutes=1))
    assert "digests 0" in _remind_at(saturday + timedelta(days=1, hours=9, minutes=1))
    assert "digests 1" in _remind_at(saturday + timedelta(days=2, hours=9, minutes=1))
    [digest] = _digests(rally)
    assert "Weekend-proof follow-up" in json.dumps(digest["blocks"])


def test_turning_it_on_after_its_time_starts_tomorrow(rally: Rally) -> None:
    assert rally.command(f"link deal {DEAL_ID}", channel="C0ACME").status_code == 200
    now = datetime.now(ALICE_TZ)
    passed = (now - timedelta(minutes=5)).time()
    if passed > now.time():  # just after midnight: nothing has passed today yet
        return
    answer = _turn_on(rally, f"digest on {passed.strftime('%H:%M')}")
    assert "turned on a daily digest" in answer
    _task(rally, "Due an hour ago", datetime.now(ALICE_TZ) - timedelta(hours=1), dealId=DEAL_ID)
    assert "digests 0" in _remind_at(datetime.now(ALICE_TZ))


def test_digest_needs_a_link_and_is_shown_and_turned_off(rally: Rally) -> None:
    assert "isn't linked yet" in _turn_on(rally)
    assert rally.store.digest(TEAM_ID, "C0ACME") is None
    assert "has no daily digest" in _turn_on(rally, "digest")
    assert "24-hour HH:MM" in _turn_on(rally, "digest on 25:00")
    assert "Usage" in _turn_on(rally, "digest sometimes")

    assert rally.command(f"link deal {DEAL_ID}", channel="C0ACME").status_code == 200
    _turn_on(rally, "digest on 7:15")
    setting = rally.store.digest(TEAM_ID, "C0ACME")
    assert setting is not None
    assert (setting.at, setting.tz, setting.enabled_by) == (
        "07:15",
        "America/Los_Angeles",
        "U0ALICE",
    )
    shown = _turn_on(rally, "digest")
    assert "07:15 (America/Los_Angeles)" in shown and "<@U0ALICE>" in shown
    assert "turned off" in _turn_on(rally, "digest off")
    assert rally.store.digest(TEAM_ID, "C0ACME") is None
    assert "had no daily digest" in _turn_on(rally, "digest off")
    actions = [entry.action for entry in rally.store.audit_trail(TEAM_ID)]
    assert "digest_on" in actions and "digest_off" in actions


def test_at_is_read_on_the_clock_of_whoever_turned_it_on(rally: Rally) -> None:
    """Bob is in Tokyo: his 08:30 is not Alice's."""
    assert rally.command(f"link deal {DEAL_ID}", channel="C0ACME").status_code == 200
    response = rally.command("digest on 08:30", channel="C0ACME", user="U0BOB")
    assert "08:30 (Asia/Tokyo)" in response.get_data(as_text=True)
    tokyo = ZoneInfo("Asia/Tokyo")
    day = datetime.now(tokyo).replace(hour=0, minute=0, second=0, microsecond=0)
    day = _working_day_after(day)
    _task(rally, "Tokyo morning task", day + timedelta(hours=8), dealId=DEAL_ID)
    assert "digests 0" in _remind_at(datetime.combine(day.date(), time(8, 29), tzinfo=tokyo))
    assert "digests 1" in _remind_at(datetime.combine(day.date(), time(8, 30), tzinfo=tokyo))
