"""The console in headless Chromium, in front of the real bot, Redis, workers and sandbox.

What a newcomer does after ``rally-slack dev``: pick a person and a channel, type
``/rally ...``, fill the modal, and see what Slack would show.
"""

from __future__ import annotations

import importlib.util
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.devstack.conftest import ConsoleStack
from tests.fixtures.sandbox import DEV_API_KEY

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEAL = "5a1c0de0-ac3e-4d3a-9e55-000000000001"


def activities(stack: ConsoleStack) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.sandbox_url}/api/v1/activities",
        headers={"X-Api-Key": DEV_API_KEY},
        params={"limit": 100},
    )
    response.raise_for_status()
    return list(response.json())


def open_console(page: Any, stack: ConsoleStack, *, user: str, channel: str) -> None:
    page.goto(f"{stack.url}?user={user}&channel={channel}")
    page.get_by_test_id("title").filter(has_text="#").wait_for()


def type_in(page: Any, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("composer").press("Enter")


def modal_input(page: Any, block_id: str, selector: str = "input, textarea, select") -> Any:
    return page.locator(f"[data-testid=modal] [data-block-id='{block_id}']").locator(selector)


def submit_and_work(page: Any, stack: ConsoleStack) -> None:
    page.get_by_test_id("modal-submit").click()
    page.get_by_test_id("modal").wait_for(state="detached")
    stack.work()


def test_log_each_activity_type_and_see_the_confirmation(
    console_stack: ConsoleStack, page: Any
) -> None:
    open_console(page, console_stack, user="U0ALICE", channel="C0SALES")
    alice = ZoneInfo("America/Los_Angeles")

    type_in(page, "/rally note")
    modal_input(page, "subject").fill("Acme wants SSO before signing")
    modal_input(page, "body").fill("Raised by Jane on the *weekly* sync")
    submit_and_work(page, console_stack)

    type_in(page, "/rally task")
    page.get_by_test_id("modal-title").filter(has_text="task").wait_for()
    modal_input(page, "subject").fill("Send Acme the revised proposal")
    modal_input(page, "due").fill("2030-01-31T17:00")
    modal_input(page, "priority").select_option("high")
    submit_and_work(page, console_stack)

    type_in(page, "/rally call")
    page.get_by_test_id("modal-title").filter(has_text="call").wait_for()
    modal_input(page, "subject").fill("Discovery call with Jane")
    modal_input(page, "duration").fill("25")
    modal_input(page, "outcome").select_option(index=1)
    submit_and_work(page, console_stack)

    type_in(page, "/rally meeting")
    page.get_by_test_id("modal-title").filter(has_text="meeting").wait_for()
    modal_input(page, "subject").fill("Acme technical deep-dive")
    modal_input(page, "start").fill("2030-02-04T09:30")
    modal_input(page, "duration").fill("60")
    modal_input(page, "location").fill("Zoom")
    modal_input(page, "meeting_url").fill("https://meet.example.com/acme")
    submit_and_work(page, console_stack)

    # Each confirmation is shown to Alice, where she started, naming what was logged.
    feed = page.get_by_test_id("feed")
    for kind, subject in [
        ("note", "Acme wants SSO before signing"),
        ("task", "Send Acme the revised proposal"),
        ("call", "Discovery call with Jane"),
        ("meeting", "Acme technical deep-dive"),
    ]:
        feed.get_by_text(f"Logged {kind} {subject}").wait_for()
    assert page.get_by_test_id("ephemeral").filter(has_text="Only visible to you").count() >= 4
    # The call's duration (minutes in the modal) is repeated back.
    assert "25 min" in feed.get_by_text("Logged call").inner_text()

    made = {a["activityType"]: a for a in activities(console_stack)}
    assert set(made) == {"note", "task", "call", "meeting"}
    assert made["note"]["body"] == "Raised by Jane on the *weekly* sync"
    assert made["task"]["priority"] == "high"
    # Pickers are read in the person's Slack time zone, as Slack does.
    due = datetime(2030, 1, 31, 17, 0, tzinfo=alice).astimezone(UTC)
    assert made["task"]["dueDate"].startswith(due.strftime("%Y-%m-%dT%H:%M"))
    assert made["call"]["callDurationSeconds"] == 25 * 60
    assert made["meeting"]["durationMinutes"] == 60
    assert made["meeting"]["meetingUrl"] == "https://meet.example.com/acme"


def test_typing_in_the_deal_menu_offers_the_named_deal_and_picking_it_logs_the_call_on_it(
    console_stack: ConsoleStack, page: Any
) -> None:
    open_console(page, console_stack, user="U0ALICE", channel="C0ACME")
    type_in(page, f'/rally link deal {DEAL} "Acme expansion"')
    page.get_by_text("associated with it").first.wait_for()
    page.goto(f"{console_stack.url}?user=U0ALICE&channel=C0SALES")  # linked to nothing
    page.get_by_test_id("title").filter(has_text="#").wait_for()

    type_in(page, "/rally call")
    page.get_by_test_id("modal-title").filter(has_text="call").wait_for()
    modal_input(page, "subject").fill("Intro with Jane")
    modal_input(page, "deal", "input").press_sequentially("acm")
    option = page.locator("[data-testid=modal] [data-block-id='deal'] li[role=option]")
    option.filter(has_text="Acme expansion").click()
    assert modal_input(page, "deal", "input").input_value() == "Acme expansion"
    submit_and_work(page, console_stack)

    page.get_by_test_id("feed").get_by_text("Logged call Intro with Jane").wait_for()
    [call] = [a for a in activities(console_stack) if a["subject"] == "Intro with Jane"]
    assert call["dealId"] == DEAL
    assert "Acme expansion" in page.get_by_test_id("feed").inner_text()


def test_validation_error_is_shown_on_its_block_and_the_modal_stays(
    console_stack: ConsoleStack, page: Any
) -> None:
    open_console(page, console_stack, user="U0BOB", channel="C0SALES")
    type_in(page, "/rally meeting")
    modal_input(page, "subject").fill("Pricing review")
    modal_input(page, "duration").fill("-15")
    modal_input(page, "meeting_url").fill("not a link")
    page.get_by_test_id("modal-submit").click()

    duration_error = page.locator("[data-block-id=duration] [data-testid=input-error]")
    duration_error.wait_for()
    link_error = page.locator("[data-block-id=meeting_url] [data-testid=input-error]")
    assert link_error.is_visible()
    assert page.get_by_test_id("modal").is_visible()
    # What Bob typed is still there, to fix in place.
    assert modal_input(page, "subject").input_value() == "Pricing review"
    assert console_stack.work(expect=False) >= 0 and activities(console_stack) == []

    modal_input(page, "duration").fill("15")
    modal_input(page, "meeting_url").fill("https://meet.example.com/pricing")
    submit_and_work(page, console_stack)
    page.get_by_text("Logged meeting Pricing review").wait_for()
    assert [a["subject"] for a in activities(console_stack)] == ["Pricing review"]


def test_message_shortcut_logs_a_message_as_a_note(console_stack: ConsoleStack, page: Any) -> None:
    open_console(page, console_stack, user="U0CAROL", channel="C0ACME")
    type_in(page, "Jane says legal signs off on Friday")
    message = page.get_by_test_id("message").filter(has_text="legal signs off")
    message.hover()
    message.get_by_test_id("more-actions").click()
    page.get_by_test_id("shortcut-log_as_note").click()
    page.get_by_test_id("modal").wait_for()
    assert "legal signs off on Friday" in modal_input(page, "body").input_value()
    submit_and_work(page, console_stack)
    page.get_by_text("Logged note").first.wait_for()
    (note,) = activities(console_stack)
    assert note["activityType"] == "note" and "legal signs off" in (note["body"] or "")


def test_global_shortcut_and_home_tab(console_stack: ConsoleStack, page: Any) -> None:
    open_console(page, console_stack, user="U0DAVE", channel="C0GENERAL")
    page.get_by_test_id("shortcuts").click()
    page.get_by_test_id("shortcut-log_activity").click()
    page.get_by_test_id("modal").wait_for()
    page.get_by_test_id("modal-close").click()
    page.get_by_test_id("modal").wait_for(state="detached")

    page.get_by_test_id("open-app").click()
    home = page.get_by_test_id("home")
    home.locator(".block").first.wait_for()
    assert home.locator("button").count() >= 4  # a button to log each type


def test_screenshot_of_the_console_for_the_readme(
    console_stack: ConsoleStack, page: Any, tmp_path: Path
) -> None:
    """Takes the README's picture; it lands in docs/ only with RALLY_UPDATE_SCREENSHOT=1,
    so an ordinary test run leaves the work tree clean."""
    from sandbox.tenants import tenant_for_key
    from workers.workspace import store_of

    # Alice is the Rally owner of the key this stack logs with (as an admin's `/rally me`
    # makes her), so the picture shows owners as people, not ids.
    owner = tenant_for_key(DEV_API_KEY).owner_id
    store_of(console_stack.settings).set_owner(console_stack.fake.team_id, "U0ALICE", owner)
    open_console(page, console_stack, user="U0ALICE", channel="C0ACME")
    type_in(page, f'/rally link deal {DEAL} "Acme expansion"')
    page.get_by_text("associated with it").first.wait_for()
    type_in(page, "Jane confirmed budget for Q3. Proposal due Friday, legal wants SSO.")
    page.get_by_test_id("message").first.wait_for()
    type_in(page, "/rally call Intro with Jane for:30m outcome:connected")
    console_stack.work()
    page.get_by_text("Logged call").first.wait_for()
    type_in(page, '/rally task Send Acme the revised proposal due:"in 10 minutes" !high')
    console_stack.work()
    page.get_by_text("Logged task").first.wait_for()
    if importlib.util.find_spec("workers.schedules") is not None:
        from cli.main import main as rally_slack

        assert rally_slack(["remind", "--once"]) == 0
        console_stack.work(expect=False)
        page.get_by_role("button", name="Complete").first.wait_for()
        reminder = page.get_by_test_id("message").filter(has_text="is due")
        assert owner not in reminder.first.inner_text()  # a person, not a GUID
    page.mouse.move(1, 1)  # no hover toolbar in the picture
    target = DOCS if os.environ.get("RALLY_UPDATE_SCREENSHOT") == "1" else tmp_path
    target.mkdir(exist_ok=True)
    page.screenshot(path=str(target / "console.png"))
    assert (target / "console.png").stat().st_size > 10_000


@pytest.mark.skipif(
    importlib.util.find_spec("workers.schedules") is None,
    reason="reminders (issue 4: workers.schedules, rally-slack remind) are not built yet",
)
def test_a_reminder_arrives_in_its_channel_and_complete_closes_the_task(
    console_stack: ConsoleStack, page: Any
) -> None:
    from cli.main import main as rally_slack

    open_console(page, console_stack, user="U0ALICE", channel="C0ACME")
    type_in(page, '/rally task Call Acme back about pricing due:"in 5 minutes" !high')
    console_stack.work()
    page.get_by_text("Logged task").first.wait_for()

    assert rally_slack(["remind", "--once"]) == 0
    console_stack.work(expect=False)  # the tick may post itself or leave jobs for workers
    reminder = page.get_by_test_id("message").filter(has_text="Call Acme back about pricing")
    reminder.first.wait_for()
    assert reminder.get_by_role("button", name="Snooze 1 hour").count() == 1

    reminder.get_by_role("button", name="Complete").click()
    console_stack.work()
    # The reminder updates in place to say who did what; the buttons are gone.
    page.get_by_test_id("message").filter(has_text="Alice Moreno").filter(
        has_text="Call Acme back about pricing"
    ).first.wait_for()
    (task,) = [a for a in activities(console_stack) if a["activityType"] == "task"]
    assert task["status"] == "completed"
    assert reminder.get_by_role("button", name="Complete").count() == 0


def test_a_digest_arrives_in_a_linked_channel_and_complete_works_there(
    console_stack: ConsoleStack, page: Any
) -> None:
    from datetime import timedelta

    from cli.main import main as rally_slack

    open_console(page, console_stack, user="U0CAROL", channel="C0ACME")
    type_in(page, f"/rally link deal {DEAL}")
    page.get_by_test_id("message").filter(has_text="linked this channel").first.wait_for()
    type_in(page, '/rally task Chase the signed order form due:"in 2 hours"')
    console_stack.work()
    page.get_by_text("Logged task").first.wait_for()
    type_in(page, "/rally digest on 08:00")
    page.get_by_test_id("message").filter(has_text="turned on a daily digest").first.wait_for()

    # Tomorrow (or Monday) at 08:00 on Carol's London clock, as the cron would run it.
    london = ZoneInfo("Europe/London")
    day = datetime.now(london) + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    at = day.replace(hour=8, minute=0, second=30, microsecond=0).astimezone(UTC)
    assert rally_slack(["remind", "--once", "--now", at.strftime("%Y-%m-%dT%H:%M:%SZ")]) == 0
    console_stack.work(expect=False)
    digest = page.get_by_test_id("message").filter(has_text="Today for")
    digest.first.wait_for()
    assert "Chase the signed order form" in digest.first.inner_text()
    digest.first.get_by_role("button", name="Complete").click()
    console_stack.work()
    page.get_by_test_id("message").filter(has_text="Today for").filter(
        has_text="Completed by"
    ).first.wait_for()
    (task,) = [a for a in activities(console_stack) if a["activityType"] == "task"]
    assert task["status"] == "completed"


# ------------------------------------------------------------------ Workflow Builder, unfurls,
# Edit and Delete (issue 11)

APP_URL = "https://rally.example.com"


def step_input(step: Any, name: str, role: str = "value") -> Any:
    return step.get_by_test_id(f"wf-input-{name}").locator(f"[data-role={role}]")


def work_through_runs(stack: ConsoleStack, timeout: float = 30.0) -> None:
    """Run workers until every workflow run ended: a step is queued only once the one
    before it ended, so one burst may or may not pick the next one up."""
    stack.work()
    deadline = time.monotonic() + timeout
    while any(run["status"] == "running" for run in stack.console.runs):
        if time.monotonic() > deadline:
            raise TimeoutError(f"workflow runs still running after {timeout}s")
        seen = stack.fake.version
        stack.work(expect=False)
        stack.fake.wait_for_change(seen, 0.5)


def test_run_a_two_step_workflow_from_the_panel_and_see_both_outputs(
    console_stack: ConsoleStack, page: Any
) -> None:
    open_console(page, console_stack, user="U0ALICE", channel="C0SALES")
    page.get_by_test_id("open-workflows").click()
    catalog = page.get_by_test_id("catalog-rally_log_activity")
    assert "Subject" in catalog.inner_text() and "required" in catalog.inner_text()
    page.get_by_test_id("add-step-rally_log_activity").click()
    page.get_by_test_id("add-step-rally_complete_task").click()
    first, second = page.get_by_test_id("wf-step").nth(0), page.get_by_test_id("wf-step").nth(1)
    step_input(first, "activity_type").select_option("task")
    step_input(first, "subject").fill("Send Acme the SOW")
    step_input(first, "due_date").fill("2030-01-31T17:00")
    step_input(first, "priority").select_option("high")
    step_input(second, "activity_id", "variable").select_option(label="Step 1 · Rally activity id")
    assert step_input(second, "activity_id").is_disabled()  # fed by the variable
    page.get_by_test_id("run-workflow").click()

    work_through_runs(console_stack)  # step 1 logs the task; then step 2 completes it
    run = page.locator("[data-testid=wf-run][data-status=completed]")
    run.wait_for()
    (task,) = activities(console_stack)
    assert (task["subject"], task["priority"], task["status"]) == (
        "Send Acme the SOW",
        "high",
        "completed",
    )
    outputs = run.get_by_test_id("wf-outputs")
    assert outputs.count() == 2
    assert task["id"] in outputs.nth(0).inner_text() and task["id"] in outputs.nth(1).inner_text()


def test_a_step_that_fails_shows_the_apps_message(console_stack: ConsoleStack, page: Any) -> None:
    open_console(page, console_stack, user="U0BOB", channel="C0SALES")
    page.get_by_test_id("open-workflows").click()
    page.get_by_test_id("add-step-rally_log_activity").click()
    page.get_by_test_id("run-workflow").click()
    # Workflow Builder would not publish it: said in place, nothing sent.
    page.get_by_test_id("wf-error").filter(has_text="Subject is required").wait_for()
    step = page.get_by_test_id("wf-step").first
    step_input(step, "subject").fill("Kickoff")
    step_input(step, "activity_type").select_option("note")
    step_input(step, "priority").select_option("high")  # a priority is for tasks
    page.get_by_test_id("run-workflow").click()
    work_through_runs(console_stack)
    failed = page.locator("[data-testid=wf-run][data-status=failed]")
    failed.wait_for()
    assert "priority" in failed.get_by_test_id("wf-step-error").inner_text().lower()
    assert activities(console_stack) == []


@pytest.mark.parametrize("rally_app_url", [APP_URL])
def test_paste_a_link_to_a_pending_task_see_its_unfurl_and_complete_it(
    console_stack: ConsoleStack, page: Any
) -> None:
    open_console(page, console_stack, user="U0ALICE", channel="C0SALES")
    type_in(page, '/rally task Send Acme the SOW due:"in 3 hours" !high')
    console_stack.work()
    page.get_by_text("Logged task").first.wait_for()
    (task,) = activities(console_stack)

    page.get_by_test_id("who").select_option("U0BOB")
    url = f"{APP_URL}/activities/{task['id']}"
    type_in(page, f"Who can take {url} ?")
    console_stack.work()  # the unfurl job reads the task and calls chat.unfurl
    unfurl = page.get_by_test_id("unfurl").filter(has_text="Send Acme the SOW")
    unfurl.wait_for()
    assert "high" in unfurl.inner_text()
    unfurl.get_by_role("button", name="Complete").click()
    console_stack.work()
    page.get_by_test_id("unfurl").filter(has_text="Completed").wait_for()
    assert page.get_by_test_id("unfurl").get_by_role("button", name="Complete").count() == 0
    (done,) = activities(console_stack)
    assert done["status"] == "completed"
    # Bob's own message is still his, under the unfurl's update.
    assert page.get_by_test_id("message").filter(has_text="Who can take").count() == 1


def test_edit_a_notes_subject_then_delete_it_through_the_confirm_dialog(
    console_stack: ConsoleStack, page: Any
) -> None:
    from playwright.sync_api import expect

    open_console(page, console_stack, user="U0CAROL", channel="C0ACME")
    type_in(page, "/rally note Budget aproved by Jane")
    console_stack.work()
    confirmation = page.get_by_test_id("ephemeral").filter(has_text="Logged note")
    confirmation.first.wait_for()

    confirmation.get_by_role("button", name="Edit").click()
    page.get_by_test_id("modal").wait_for()  # opened at once; a job fills it from Rally
    console_stack.work()
    subject = modal_input(page, "subject")
    expect(subject).to_have_value("Budget aproved by Jane")
    subject.fill("Budget approved by Jane")
    submit_and_work(page, console_stack)
    edited = page.get_by_test_id("ephemeral").filter(has_text="Edited by")
    edited.filter(has_text="Budget approved by Jane").wait_for()
    assert [a["subject"] for a in activities(console_stack)] == ["Budget approved by Jane"]

    # Delete asks first, as Slack does; "Keep it" sends nothing.
    edited.get_by_role("button", name="Delete").click()
    dialog = page.get_by_test_id("confirm-dialog")
    assert "Delete this note?" in dialog.get_by_test_id("confirm-title").inner_text()
    assert "can't be undone" in dialog.get_by_test_id("confirm-text").inner_text()
    dialog.get_by_test_id("confirm-deny").click()
    dialog.wait_for(state="detached")
    assert console_stack.work(expect=False) == 0 and len(activities(console_stack)) == 1

    edited.get_by_role("button", name="Delete").click()
    dialog.get_by_test_id("confirm-yes").click()
    console_stack.work()
    page.get_by_test_id("ephemeral").filter(has_text="Deleted by").wait_for()
    assert activities(console_stack) == []
