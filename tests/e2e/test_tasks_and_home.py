"""``/rally tasks`` and the App Home's open tasks, and the schedules' worker path (rq cron)."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

from devstack.fake_slack.payloads import app_home_opened, block_actions, event_callback
from slack_ui.ids import COMPLETE_ACTION, SNOOZE_HOUR_ACTION, TASKS_MORE_ACTION
from tests.e2e.harness import OWNER_ID, TEAM_ID, Rally
from tests.e2e.reminders_support import (
    RALLY_SLACK,
    cli_env,
    create_task,
    get_task,
    iso_in,
    log_task,
    remind_once,
    reminders,
    text_of,
)
from workers import queues
from workers.schedules import build_cron

OTHER_OWNER = "0a0a0a0a-0000-4000-8000-000000000000"


def _rows(blocks: list[dict[str, Any]]) -> list[str]:
    """The task lines, in order (sections followed by a task's button row)."""
    out = []
    for block, after in zip(blocks, [*blocks[1:], {}], strict=True):
        if block["type"] == "section" and str(after.get("block_id", "")).startswith("task_"):
            out.append(block["text"]["text"])
    return out


def _task_buttons(blocks: list[dict[str, Any]], task_id: str) -> dict[str, dict[str, Any]]:
    [row] = [b for b in blocks if b.get("block_id") == f"task_{task_id}"]
    return {e["action_id"]: {"block_id": row["block_id"], **e} for e in row["elements"]}


def _world(rally: Rally) -> dict[str, dict[str, Any]]:
    """Alice (mapped to OWNER_ID): tasks she owns, logged, someone else's, undated, overdue."""
    rally.store.set_owner_self_service(TEAM_ID, True)
    assert rally.command(f"me {OWNER_ID}").status_code == 200
    tasks = {
        "owned": create_task(rally, "Owned in Rally", 60 * 5, ownerId=OWNER_ID),
        "overdue": create_task(rally, "Overdue one", -60, ownerId=OWNER_ID),
        "theirs": create_task(rally, "Someone else's", 30, ownerId=OTHER_OWNER),
        "undated": create_task(rally, "No due date", None, ownerId=OWNER_ID),
        "done": create_task(rally, "Done", 20, ownerId=OWNER_ID, status="completed"),
    }
    # Dave has no owner mapping: his tasks are his because he logged them from Slack.
    tasks["logged"] = log_task(rally, f"Logged from Slack due:{iso_in(60 * 24)}", user="U0DAVE")
    tasks["mine_logged"] = log_task(rally, f"Mine from Slack due:{iso_in(60 * 48)}")
    remind_once()  # syncs the index (and reminds what is due: the overdue one)
    return tasks


def test_rally_tasks_lists_my_open_dated_tasks_soonest_first_with_buttons(rally: Rally) -> None:
    tasks = _world(rally)
    body = rally.command("tasks").get_json()

    shown = json.dumps(body)
    rows = _rows(body["blocks"])
    assert [
        next(s for s in ("Overdue one", "Owned in Rally", "Mine from Slack") if s in r)
        for r in rows
    ] == [
        "Overdue one",
        "Owned in Rally",
        "Mine from Slack",
    ]
    assert "*Overdue*" in rows[0] and "Overdue" not in rows[1]
    for absent in ("Someone else", "No due date", "Done", "Logged from Slack"):
        assert absent not in shown
    assert "with a due date" in shown
    daves = json.dumps(rally.command("tasks", user="U0DAVE").get_json())
    assert "Logged from Slack" in daves and "Owned in Rally" not in daves
    assert set(_task_buttons(body["blocks"], tasks["owned"]["id"])) == {
        COMPLETE_ACTION,
        SNOOZE_HOUR_ACTION,
        "task_snooze_tomorrow",
    }


def test_complete_from_rally_tasks_completes_it_refreshes_the_list_and_any_reminder(
    rally: Rally,
) -> None:
    tasks = _world(rally)
    overdue = tasks["overdue"]
    [reminder] = [m for m in reminders(rally, "C0SALES")] or [None]
    body = rally.command("tasks").get_json()
    url = rally.fake.new_response_url(channel="C0SALES", user="U0ALICE")
    payload = block_actions(
        _task_buttons(body["blocks"], overdue["id"])[COMPLETE_ACTION],
        channel="C0SALES",
        is_ephemeral=True,
        response_url=url,
    )
    assert rally.interact(payload).status_code == 200
    rally.work()

    assert get_task(rally, overdue["id"])["status"] == "completed"
    [refreshed] = rally.fake.response_posts(url)
    text = json.dumps(refreshed.body)
    assert "Completed by <@U0ALICE>" in text and "Overdue one" in text  # the notice on top
    assert refreshed.body.get("replace_original") in (True, "true")
    assert len(_rows(refreshed.body["blocks"])) == 2
    assert reminder is None  # created in Rally with no channel: nowhere to remind
    home = rally.fake.home("U0ALICE")
    assert home is not None and "Overdue one" not in json.dumps(home["blocks"][:-1])


def test_rally_tasks_pages_ten_at_a_time_with_a_more_button(rally: Rally) -> None:
    rally.store.set_owner_self_service(TEAM_ID, True)
    assert rally.command(f"me {OWNER_ID}").status_code == 200
    for n in range(12):
        create_task(rally, f"Task {n:02d}", 60 + n, ownerId=OWNER_ID)
    remind_once()

    body = rally.command("tasks").get_json()
    rows = _rows(body["blocks"])
    assert len(rows) == 10 and "Task 00" in rows[0] and "Task 09" in rows[9]
    [more] = [
        e
        for b in body["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == TASKS_MORE_ACTION
    ]

    url = rally.fake.new_response_url(channel="C0SALES", user="U0ALICE")
    payload = block_actions(
        {"block_id": "tasks_more", **more}, channel="C0SALES", is_ephemeral=True, response_url=url
    )
    assert rally.interact(payload).status_code == 200
    [page] = rally.fake.response_posts(url)
    rows = _rows(page.body["blocks"])
    assert len(rows) == 2 and "Task 10" in rows[0] and "Task 11" in rows[1]
    assert "11 to 12 of 12" in json.dumps(page.body)


def test_app_home_shows_open_tasks_recent_activity_and_log_buttons_and_refreshes_after_a_click(
    rally: Rally,
) -> None:
    tasks = _world(rally)
    assert rally.post(event_callback(app_home_opened("U0ALICE"))).status_code == 200
    home = rally.fake.wait_until(lambda: rally.fake.home("U0ALICE"))
    blocks = home["blocks"]
    rows = _rows(blocks)
    assert len(rows) == 3 and "Overdue one" in rows[0]
    shown = json.dumps(blocks)
    assert "Mine from Slack" in shown and "Recently logged" in shown
    assert {
        e["action_id"]
        for b in blocks
        if b.get("block_id") == "home_log_buttons"
        for e in b["elements"]
    } == {
        "open_modal_note",
        "open_modal_task",
        "open_modal_call",
        "open_modal_meeting",
    }

    owned = tasks["owned"]
    payload = block_actions(_task_buttons(blocks, owned["id"])[SNOOZE_HOUR_ACTION], view=home)
    assert rally.interact(payload).status_code == 200
    rally.work()

    moved = get_task(rally, owned["id"])
    assert moved["dueDate"] != owned["dueDate"]
    refreshed = rally.fake.home("U0ALICE")
    assert refreshed is not None
    [row] = [r for r in _rows(refreshed["blocks"]) if "Owned in Rally" in r]
    epoch = int(datetime.fromisoformat(moved["dueDate"].replace("Z", "+00:00")).timestamp())
    assert f"<!date^{epoch}^" in row


def test_rq_cron_enqueues_sync_tick_and_digests_that_a_worker_runs_to_post_the_reminder(
    rally: Rally,
) -> None:
    log_task(rally, f"Via cron due:{iso_in(5)}")
    cron = build_cron(rally.redis)
    for job in cron.get_jobs():
        job.next_enqueue_time = datetime.now(UTC)  # the minute has come
    assert len(cron.enqueue_jobs()) == 4  # sync, tick, digests, lane sweep
    assert rally.queued()[queues.REMINDERS] == 4
    rally.work()
    [message] = reminders(rally, "C0SALES")
    assert "Via cron" in text_of(message)


def test_rally_slack_cron_starts_registers_and_stops_on_sigterm(rally: Rally) -> None:
    proc = subprocess.Popen(
        [RALLY_SLACK, "cron"], env=cli_env(rally), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while not rally.redis.zcard("rq:cron_schedulers"):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert b"sync_job" in err and b"tick_job" in err and b"digest_job" in err
