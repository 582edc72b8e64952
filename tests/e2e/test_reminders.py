"""Due-task reminders through the public door: /rally in, ``rally-slack remind --once``
(as a subprocess and in-process), the fake Slack's channels, buttons clicked, RQ burst
workers, and the sandbox's tasks checked."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.redis import worker_redis
from slack_ui.ids import COMPLETE_ACTION, SNOOZE_HOUR_ACTION, SNOOZE_TOMORROW_ACTION
from tests.e2e.harness import APP_URL, DEAL_ID, OWNER_ID, TEAM_ID, Rally
from tests.e2e.reminders_support import (
    RALLY_SLACK,
    api,
    buttons,
    cli_env,
    click,
    create_task,
    due_epoch_of,
    get_task,
    iso_in,
    log_task,
    remind_once,
    reminders,
    text_of,
    update_task,
)
from workers.reminder_poster import SlackPoster
from workers.reminders.jobs import run_once, run_sync, run_tick
from workers.state import State
from workers.task_actions import act_on_task


def _poster(rally: Rally) -> Callable[[str | None], SlackPoster]:
    return lambda team: SlackPoster.from_settings(rally.settings, rally.redis, team=team)


def test_a_task_logged_in_a_channel_is_reminded_there_once_and_its_complete_button_completes_it(
    rally: Rally,
) -> None:
    task = log_task(rally, f"Send proposal to Acme <b> due:{iso_in(5)} !high")

    runs = [
        subprocess.run(
            [RALLY_SLACK, "remind", "--once"],
            env=cli_env(rally),
            capture_output=True,
            text=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert "reminded 1" in runs[0].stdout and "synced 1" in runs[0].stdout, runs[0].stdout
    assert "reminded 0" in runs[1].stdout, runs[1].stdout

    [message] = reminders(rally, "C0SALES")
    text = text_of(message)
    assert "Send proposal to Acme &lt;b&gt;" in text  # escaped, never markup
    assert f"<!date^{due_epoch_of(task)}^" in text  # each reader's own zone
    assert "Priority *high*" in text
    assert f"{APP_URL}/activities/{task['id']}" in text
    assert set(buttons(message)) == {COMPLETE_ACTION, SNOOZE_HOUR_ACTION, SNOOZE_TOMORROW_ACTION}

    click(rally, message, COMPLETE_ACTION)

    assert get_task(rally, task["id"])["status"] == "completed"
    [updated] = reminders(rally, "C0SALES")
    assert updated["ts"] == message["ts"]  # in place
    assert "Completed by <@U0ALICE>" in text_of(updated)
    assert buttons(updated) == {}
    assert "reminded 0" in remind_once()  # completed: never again


def test_two_concurrent_remind_processes_post_one_reminder(rally: Rally) -> None:
    log_task(rally, f"Call back Globex due:{iso_in(5)}")
    procs = [
        subprocess.Popen(
            [RALLY_SLACK, "remind", "--once"],
            env=cli_env(rally),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    reminded = sum(int(out.split("reminded ")[1].split(",")[0]) for out, _ in outputs)
    assert reminded == 1, outputs
    assert len(reminders(rally, "C0SALES")) == 1


def test_a_task_on_a_linked_deal_is_reminded_in_that_channel_once_even_if_logged_there(
    rally: Rally,
) -> None:
    assert rally.command(f"link deal {DEAL_ID}", channel="C0ACME").status_code == 200
    created_in_rally = create_task(rally, "Renewal prep", 10, dealId=DEAL_ID)
    logged_there = log_task(rally, f"Send MSA due:{iso_in(3)}", channel="C0ACME")
    assert logged_there["dealId"] == DEAL_ID

    assert "reminded 2" in remind_once()

    acme = reminders(rally, "C0ACME")
    assert len(acme) == 2  # origin and link are the same channel: one copy
    assert "Send MSA" in text_of(acme[0]) and "Renewal prep" in text_of(acme[1])
    assert f"{APP_URL}/deals/{DEAL_ID}" in text_of(acme[1])
    assert reminders(rally, "C0SALES") == []
    assert created_in_rally["id"] not in {m.get("text") for m in acme}


def test_completed_deleted_far_future_and_rescheduled_tasks_are_not_reminded(
    rally: Rally,
) -> None:
    assert rally.command("link deal " + DEAL_ID, channel="C0ACME").status_code == 200
    completed = create_task(rally, "Done already", 5, dealId=DEAL_ID)
    deleted = create_task(rally, "Deleted soon", 5, dealId=DEAL_ID)
    create_task(rally, "Next quarter", 60 * 24 * 30, dealId=DEAL_ID)
    moved_later = create_task(rally, "Moved to next week", 5, dealId=DEAL_ID)
    moved_sooner = create_task(rally, "Moved to now", 60 * 24 * 3, dealId=DEAL_ID)
    run_sync(rally.settings)  # the index now holds the five as they were

    update_task(rally, completed["id"], status="completed")
    api(rally, "DELETE", f"/{deleted['id']}")
    update_task(rally, moved_later["id"], dueDate=iso_in(60 * 24 * 7))
    report = run_tick(rally.settings, _poster(rally))  # re-reads before posting
    assert report.posted == 0 and report.deleted == 1 and report.closed == 1
    assert report.rescheduled == 1

    update_task(rally, moved_sooner["id"], dueDate=iso_in(5))
    _, ticked = run_once(rally.settings, _poster(rally))
    assert ticked.reminded_ids == [moved_sooner["id"]]
    [message] = reminders(rally, "C0ACME")
    assert "Moved to now" in text_of(message)

    # Next week arrives: the moved task is reminded then, for its new due date.
    later = datetime.now(UTC) + timedelta(days=7)
    _, ticked = run_once(rally.settings, _poster(rally), now=later)
    assert ticked.reminded_ids == [moved_later["id"]]


def test_snooze_one_hour_moves_the_due_date_updates_every_copy_and_reminds_again_then(
    rally: Rally,
) -> None:
    assert rally.command(f"link deal {DEAL_ID}", channel="C0ACME").status_code == 200
    assert rally.command(f"link deal {DEAL_ID}", channel="C0SALES").status_code == 200
    # Logged in #sales (linked to the deal too) and #acme linked: two channels, two copies.
    task = log_task(rally, f"Chase signature due:{iso_in(5)}")
    assert "reminded 1" in remind_once()
    [in_sales], [in_acme] = reminders(rally, "C0SALES"), reminders(rally, "C0ACME")

    click(rally, in_acme, SNOOZE_HOUR_ACTION, user="U0BOB")

    after = get_task(rally, task["id"])
    assert due_epoch_of(after) == due_epoch_of(task) + 3600
    assert after["status"] == "pending"
    for channel in ("C0SALES", "C0ACME"):
        [message] = reminders(rally, channel)
        assert "Snoozed by <@U0BOB> until <!date^" + str(due_epoch_of(after)) in text_of(message)
        assert buttons(message) == {}
    # A second click on the (now updated) message, or a stale copy, changes nothing.
    click(rally, in_sales, SNOOZE_HOUR_ACTION, user="U0ALICE")
    assert due_epoch_of(get_task(rally, task["id"])) == due_epoch_of(after)

    assert "reminded 0" in remind_once()  # the new due is an hour away
    soon = datetime.now(UTC) + timedelta(minutes=60)
    _, ticked = run_once(rally.settings, _poster(rally), now=soon)
    assert ticked.reminded_ids == [task["id"]]  # once per due date: the new one
    assert len(reminders(rally, "C0SALES")) == 2


def test_a_double_click_snoozes_once(rally: Rally) -> None:
    task = log_task(rally, f"Double click me due:{iso_in(5)}")
    remind_once()
    [message] = reminders(rally, "C0SALES")
    click(rally, message, SNOOZE_HOUR_ACTION, work=False)
    click(rally, message, SNOOZE_HOUR_ACTION, work=False)
    assert rally.queued()["rally-actions"] == 1
    rally.work()
    assert due_epoch_of(get_task(rally, task["id"])) == due_epoch_of(task) + 3600


@pytest.mark.parametrize(
    ("user", "zone"), [("U0BOB", "Asia/Tokyo"), ("U0ALICE", "America/Los_Angeles")]
)
def test_snooze_until_tomorrow_is_nine_in_the_clickers_own_zone(
    rally: Rally, user: str, zone: str
) -> None:
    task = log_task(rally, f"Prep QBR deck due:{iso_in(-30)}")  # overdue, never reminded
    assert "reminded 1" in remind_once()
    [message] = reminders(rally, "C0SALES")
    assert "Overdue" in text_of(message)

    clicked_at = datetime.now(UTC)
    click(rally, message, SNOOZE_TOMORROW_ACTION, user=user)

    due = datetime.fromtimestamp(due_epoch_of(get_task(rally, task["id"])), UTC)
    local = due.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (9, 0)
    assert local.date() == clicked_at.astimezone(ZoneInfo(zone)).date() + timedelta(days=1)
    if zone == "Asia/Tokyo":
        # 9:00 in Tokyo is midnight UTC: the UTC date is not the local one a day on.
        assert due.hour == 0
    assert f"Snoozed by <@{user}> until <!date^{int(due.timestamp())}^" in text_of(
        reminders(rally, "C0SALES")[0]
    )


def test_a_failed_complete_is_told_to_the_clicker_and_the_buttons_still_work(
    rally: Rally, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = log_task(rally, f"Will fail once due:{iso_in(5)}")
    remind_once()
    [message] = reminders(rally, "C0SALES")

    monkeypatch.setenv("RALLY_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    url = click(rally, message, COMPLETE_ACTION)
    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)

    [told] = rally.fake.response_posts(url)
    assert "couldn't complete" in str(told.body) and "buttons still work" in str(told.body)
    assert get_task(rally, task["id"])["status"] == "pending"
    [still] = reminders(rally, "C0SALES")
    assert set(buttons(still)) == {COMPLETE_ACTION, SNOOZE_HOUR_ACTION, SNOOZE_TOMORROW_ACTION}

    click(rally, still, COMPLETE_ACTION)
    assert get_task(rally, task["id"])["status"] == "completed"
    assert "Completed by <@U0ALICE>" in text_of(reminders(rally, "C0SALES")[0])


def test_reminder_names_the_mapped_owner_and_goes_to_a_dm_when_the_bot_is_not_in_the_channel(
    rally: Rally,
) -> None:
    rally.store.set_owner_self_service(TEAM_ID, True)
    assert rally.command(f"me {OWNER_ID}").status_code == 200
    task = log_task(rally, f"Owner mention due:{iso_in(5)}")
    assert task["ownerId"] == OWNER_ID
    rally.fake.remove_bot_from("C0SALES")

    assert "reminded 1" in remind_once()

    assert reminders(rally, "C0SALES") == []
    dm = State(worker_redis(rally.settings.redis_url)).reminder_posts(
        task["id"], due_epoch_of(task)
    )
    [(channel, _ts)] = dm.items()
    assert channel.startswith("D")
    [message] = reminders(rally, channel)
    assert "Owner <@U0ALICE>" in text_of(message)


def test_a_task_logged_from_app_home_is_reminded_in_the_thread_of_its_dm_confirmation(
    rally: Rally,
) -> None:
    from devstack.fake_slack.payloads import (
        app_home_opened,
        block_actions,
        event_callback,
        state_values_for,
        view_submission,
    )

    assert rally.post(event_callback(app_home_opened("U0ALICE"))).status_code == 200
    home = rally.fake.wait_until(lambda: rally.fake.home("U0ALICE"))
    [log_task_button] = [
        {"block_id": b["block_id"], **e}
        for b in home["blocks"]
        if b.get("block_id") == "home_log_buttons"
        for e in b["elements"]
        if e["action_id"] == "open_modal_task"
    ]
    opened = len(rally.fake.calls("views.open"))
    click_payload = block_actions(
        log_task_button, view=home, trigger_id=rally.fake.new_trigger_id("U0ALICE")
    )
    assert rally.interact(click_payload).status_code == 200
    call = rally.fake.wait_until(
        lambda: len(rally.fake.calls("views.open")) > opened and rally.fake.calls("views.open")[-1]
    )
    view = call.response["view"]
    due = datetime.now(UTC) + timedelta(minutes=5)
    values = {"subject": "From the Home tab", "due": int(due.timestamp())}
    submitted = rally.interact(view_submission(view, state_values_for(view, values)))
    assert submitted.status_code == 200, submitted.data
    rally.work()

    dm = "D" + "U0ALICE"[1:]
    [confirmation] = rally.fake.messages(dm)
    assert "From the Home tab" in text_of(confirmation)
    assert "reminded 1" in remind_once()
    [reply] = rally.fake.thread(dm, confirmation["ts"])
    assert "From the Home tab" in text_of(reply) and buttons(reply)


def _act(
    rally: Rally, message: dict[str, Any], action: str, task: dict[str, Any], user: str
) -> Any:
    """The click job run directly, as RQ would, on the reminder ``message``."""
    return act_on_task(
        action,
        task["id"],
        due_epoch_of(task),
        team="T0RALLY001",
        user=user,
        channel=message["channel"],
        message_ts=message["ts"],
        response_url=rally.fake.new_response_url(channel=message["channel"], user=user),
    )


def test_a_click_while_another_acts_is_busy_and_one_after_it_is_told_it_was_done(
    rally: Rally,
) -> None:
    task = log_task(rally, f"Contended due:{iso_in(5)}")
    remind_once()
    [message] = reminders(rally, "C0SALES")
    held = State(rally.redis).task_lock(task["id"], due_epoch_of(task))
    assert held.acquire()  # another worker is acting on it

    assert _act(rally, message, COMPLETE_ACTION, task, "U0ALICE") == {"status": "busy"}
    assert get_task(rally, task["id"])["status"] == "pending"
    held.release()
    done = _act(rally, message, COMPLETE_ACTION, task, "U0ALICE")
    late = _act(rally, message, SNOOZE_HOUR_ACTION, task, "U0BOB")

    assert done == {"status": "done", "action": COMPLETE_ACTION, "user": "U0ALICE"}
    assert late == {"status": "already", "by": "U0ALICE"}
    assert get_task(rally, task["id"])["status"] == "completed"
    assert "Completed by <@U0ALICE>" in text_of(reminders(rally, "C0SALES")[0])


def test_clicks_on_a_task_deleted_or_closed_in_rally_since_say_so(rally: Rally) -> None:
    deleted = log_task(rally, f"Deleted meanwhile due:{iso_in(5)}")
    closed = log_task(rally, f"Completed meanwhile due:{iso_in(6)}")
    remind_once()
    by_subject = {
        subject: m
        for m in reminders(rally, "C0SALES")
        for subject in ("Deleted meanwhile", "Completed meanwhile")
        if subject in text_of(m)
    }
    api(rally, "DELETE", f"/{deleted['id']}")
    update_task(rally, closed["id"], status="completed")

    gone = _act(rally, by_subject["Deleted meanwhile"], SNOOZE_HOUR_ACTION, deleted, "U0ALICE")
    moot = _act(rally, by_subject["Completed meanwhile"], SNOOZE_HOUR_ACTION, closed, "U0ALICE")

    assert gone == {"status": "gone"}
    assert moot == {
        "status": "done",
        "action": "gone",
        "user": "U0ALICE",
        "note": "No longer open in Rally",
    }
    told = " ".join(str(p.body) for p in rally.fake.response_posts())
    assert "That task was deleted in Rally." in told
    assert "is no longer open in Rally, so it can't be snoozed." in told
    assert get_task(rally, closed["id"])["dueDate"] == closed["dueDate"]
    assert all(buttons(m) == {} for m in reminders(rally, "C0SALES"))
