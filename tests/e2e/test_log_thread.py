"""Log thread as note, end to end: the message shortcut over a signed request, the modal
as the fake Slack holds it, the submission, real RQ workers reading the thread from the
fake Slack page by page, one note in the sandbox, and the person told."""

from __future__ import annotations

import json
import re
from typing import Any

from api_client.models import BODY_MAX
from devstack.fake_slack import payloads
from slack_ui import ids
from tests.e2e.harness import APP_URL, DEAL_ID, Rally
from workers import jobs, queues

CHANNEL = "C0SALES"


def _texts(i: int) -> str:
    if i == 0:
        return "Kickoff: *pricing* for <@U0BOB> &amp; <#C0ACME|deal-acme>"
    return f"Reply {i} from the team <https://acme.example/q/{i}|quote {i}>"


def _open(rally: Rally, message: dict[str, Any], *, user: str = "U0ALICE") -> dict[str, Any]:
    before = len(rally.fake.calls("views.open"))
    payload = payloads.message_shortcut(
        ids.LOG_THREAD_SHORTCUT,
        message,
        CHANNEL,
        user=user,
        trigger_id=rally.fake.new_trigger_id(user),
        response_url=rally.fake.new_response_url(channel=CHANNEL, user=user),
    )
    response = rally.interact(payload)
    assert response.status_code == 200, response.data
    call = rally.fake.wait_until(
        lambda: len(rally.fake.calls("views.open")) > before and rally.fake.calls("views.open")[-1]
    )
    assert call.response["ok"], call.response
    return dict(call.response["view"])


def _notes(rally: Rally) -> list[dict[str, Any]]:
    return [a for a in rally.activities() if a["activityType"] == "note"]


def test_a_250_message_thread_over_three_pages_becomes_one_note(rally: Rally) -> None:
    rally.command(f"link deal {DEAL_ID}", channel=CHANNEL)
    rally.fake.set_replies_page_max(100)
    parent = rally.fake.post_thread(CHANNEL, 250, text=_texts)

    view = _open(rally, parent)
    assert view["callback_id"] == ids.LOG_THREAD_VIEW
    shown = json.dumps(view["blocks"])
    assert "250 messages" in shown and DEAL_ID in shown
    assert {b.get("block_id") for b in view["blocks"]} >= {ids.SUBJECT, ids.DEAL}
    assert ids.BODY not in {b.get("block_id") for b in view["blocks"]}

    submitted = rally.submit(view, {ids.SUBJECT: "Acme pricing thread"})
    assert submitted.status_code == 200 and submitted.data in (b"", b"{}")
    # Slack asks the job to wait once: the retry handler honours Retry-After.
    rally.fake.fail_next("conversations.replies", "ratelimited", status=429, retry_after=1)
    rally.work()

    [note] = _notes(rally)
    assert note["subject"] == "Acme pricing thread" and note["dealId"] == DEAL_ID
    body = note["body"]
    lines = body.split("\n")
    permalink = f"https://rallydev.slack.com/archives/{CHANNEL}/p{parent['ts'].replace('.', '')}"
    assert lines[0] == f"Slack thread in #sales, 250 messages: {permalink}"
    assert len(lines) == 2 + 250
    # The parent: mrkdwn undone, the mention and the channel named.
    assert re.fullmatch(
        r"Alice Moreno \(\d{4}-\d\d-\d\d \d\d:\d\d P[SD]T\): "
        r"Kickoff: pricing for @Bob Tanaka & #deal-acme",
        lines[2],
    ), lines[2]
    assert lines[3].startswith("Bob Tanaka (") and lines[3].endswith(
        "Reply 1 from the team quote 1 (https://acme.example/q/1)"
    )
    assert lines[-1].endswith("Reply 249 from the team quote 249 (https://acme.example/q/249)")

    replies = rally.fake.calls("conversations.replies")
    assert [c.status for c in replies] == [429, 200, 200, 200]
    assert [bool(c.params.get("cursor")) for c in replies[1:]] == [False, True, True]

    # Told like every log: the confirmation with Edit and Delete.
    told = json.dumps([p.body for p in rally.fake.response_posts()])
    assert f"{APP_URL}/activities/{note['id']}" in told
    assert ids.ACTIVITY_EDIT_ACTION in told and ids.ACTIVITY_DELETE_ACTION in told
    # The thread's text never went into a job's arguments.
    job = queues.queue(queues.ACTIVITIES, rally.redis).fetch_job(
        queues.create_job_id(_submission_id(rally))
    )
    assert job is not None and "Reply 249" not in json.dumps(job.kwargs)


def _submission_id(rally: Rally) -> str:
    [key] = [k for k in rally.redis.scan_iter("rally:thread-body:*")]
    return str(key.decode() if isinstance(key, bytes) else key).rsplit(":", 1)[-1]


def test_a_thread_over_the_body_limit_is_cut_with_the_count_left_out(rally: Rally) -> None:
    parent = rally.fake.post_thread(
        CHANNEL, 700, users=["U0BOB"], text=lambda i: f"message {i} " + "x" * 200
    )
    view = _open(rally, parent)
    rally.submit(view, {ids.SUBJECT: "A long thread"})
    rally.work()

    [note] = _notes(rally)
    body = note["body"]
    assert len(body) <= BODY_MAX
    lines = body.split("\n")
    kept = lines[2:-1]
    assert kept[0].endswith("message 0 " + "x" * 200)
    assert all(line.startswith("Bob Tanaka (") for line in kept)
    match = re.fullmatch(r"\[(\d+) more messages were left out: .*65,536 characters\]", lines[-1])
    assert match, lines[-1]
    assert int(match.group(1)) == 700 - len(kept)
    # Cut at a message boundary: the last one kept is whole.
    assert kept[-1].endswith(f"message {len(kept) - 1} " + "x" * 200)


def test_a_thread_the_bot_cannot_read_is_told_and_logs_nothing(rally: Rally) -> None:
    parent = rally.fake.post_thread(CHANNEL, 3)
    view = _open(rally, parent)
    rally.fake.remove_bot_from(CHANNEL)
    rally.submit(view, {ids.SUBJECT: "Secret thread"})
    rally.work()

    assert _notes(rally) == []
    told = " ".join(rally.shown_to("U0ALICE"))
    assert "isn't in the channel" in told and "/invite @Rally" in told
    assert ids.EDIT_AND_RETRY_ACTION in told
    failed = rally.redis.keys("rq:registry:failed:*")
    assert not [k for k in failed if rally.redis.zcard(k)]

    # Invited, Edit and retry reopens the thread form, and this time it is logged.
    rally.fake.add_bot_to(CHANNEL)
    post = next(
        p for p in rally.fake.response_posts() if ids.EDIT_AND_RETRY_ACTION in json.dumps(p.body)
    )
    button = next(
        e
        for b in post.body["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.EDIT_AND_RETRY_ACTION
    )
    rally.interact(
        payloads.block_actions(
            button,
            channel=CHANNEL,
            trigger_id=rally.fake.new_trigger_id("U0ALICE"),
            response_url=rally.fake.new_response_url(channel=CHANNEL, user="U0ALICE"),
            is_ephemeral=True,
        )
    )
    reopened = rally.fake.calls("views.open")[-1].response["view"]
    assert reopened["callback_id"] == ids.LOG_THREAD_VIEW
    rally.submit(reopened, {})
    rally.work()
    [note] = _notes(rally)
    assert note["subject"] == "Secret thread" and "Message 2" in note["body"]


def test_redelivered_and_rerun_it_is_still_one_note_with_the_first_body(rally: Rally) -> None:
    parent = rally.fake.post_thread(CHANNEL, 4)
    view = _open(rally, parent)
    values = payloads.state_values_for(view, {ids.SUBJECT: "Once"})
    submission = payloads.view_submission(view, values)
    rally.interact(submission)
    rally.interact(submission)  # Slack delivers it again
    assert rally.queued()[queues.ACTIVITIES] == 1
    rally.work()
    [note] = _notes(rally)

    # The worker died after Rally committed: RQ runs the same job again. The thread has
    # grown since, but the retry sends the body it kept, under the same Idempotency-Key.
    rally.fake.post_as_user(CHANNEL, "U0BOB", "a late reply", thread_ts=parent["ts"])
    job = queues.queue(queues.ACTIVITIES, rally.redis).fetch_job(
        queues.create_job_id(_submission_id(rally))
    )
    assert job is not None
    again = jobs.create_activity(**job.kwargs)
    assert again == {"status": "created", "id": note["id"]}
    [same] = _notes(rally)
    assert same["body"] == note["body"] and "a late reply" not in same["body"]


def test_the_modal_says_what_it_will_capture_from_a_reply_or_a_lone_message(rally: Rally) -> None:
    parent = rally.fake.post_thread(CHANNEL, 3)
    [reply, _] = rally.fake.thread(CHANNEL, parent["ts"])
    from_reply = _open(rally, reply)
    assert "this reply is in" in json.dumps(from_reply["blocks"])
    assert json.loads(from_reply["private_metadata"])["thread_ts"] == parent["ts"]
    lone = rally.fake.post_as_user(CHANNEL, "U0BOB", "Just me")
    assert "no replies yet" in json.dumps(_open(rally, lone)["blocks"])


def test_a_form_that_lost_its_thread_says_so_in_place(rally: Rally) -> None:
    parent = rally.fake.post_thread(CHANNEL, 2)
    view = _open(rally, parent)
    view["private_metadata"] = json.dumps({"channel": CHANNEL, "thread_ts": "../../x"})
    response = rally.submit(view, {ids.SUBJECT: "Nope"})
    assert response.get_json()["response_action"] == "errors"
    assert "lost track of its thread" in response.get_json()["errors"][ids.SUBJECT]
    rally.work()
    assert _notes(rally) == []


def test_editing_a_thread_note_keeps_details_too_long_for_the_form(rally: Rally) -> None:
    parent = rally.fake.post_thread(CHANNEL, 60, text=lambda i: f"line {i} " + "y" * 80)
    rally.submit(_open(rally, parent), {ids.SUBJECT: "Long thread"})
    rally.work()
    [note] = _notes(rally)
    assert len(note["body"]) > 3000  # more than a Slack input holds
    post = next(p for p in rally.fake.response_posts() if "Logged" in json.dumps(p.body))
    edit = next(
        e
        for b in post.body["blocks"]
        if b.get("block_id") == ids.CONFIRMATION_ACTIONS_BLOCK
        for e in b["elements"]
        if e["action_id"] == ids.ACTIVITY_EDIT_ACTION
    )
    rally.interact(
        payloads.block_actions(
            {"block_id": ids.CONFIRMATION_ACTIONS_BLOCK, **edit},
            channel=CHANNEL,
            is_ephemeral=True,
            response_url=rally.fake.new_response_url(channel=CHANNEL, user="U0ALICE"),
            trigger_id=rally.fake.new_trigger_id("U0ALICE"),
        )
    )
    rally.work()
    [update] = [c for c in rally.fake.calls("views.update") if c.ok][-1:]
    form = dict(update.response["view"])
    assert form["callback_id"] == ids.EDIT_VIEW
    assert ids.BODY not in {b.get("block_id") for b in form["blocks"]}
    assert "longer than a Slack form holds" in json.dumps(form["blocks"])
    saved = rally.submit(form, {ids.SUBJECT: "Long thread, renamed"})
    assert saved.status_code == 200 and not saved.get_data()
    rally.work()
    [after] = _notes(rally)
    assert after["subject"] == "Long thread, renamed" and after["body"] == note["body"]
