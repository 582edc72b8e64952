"""RQ jobs for logging activities: plain functions with plain JSON arguments.

They know nothing of RQ (a test may call them directly) except ``on_create_failed``,
which is RQ's failure callback. Clients are built from :class:`Settings` inside the job,
so no secret ever sits in Redis.

Failure policy of ``create_activity``:

- transient (5xx, 429, connection trouble; ``RallyError.retryable``): raise, RQ retries
  with the backoff of ``workers.queues.create_retry``; when retries run out the failure
  callback tells the user;
- unanswered (sent, no answer): reconciled before any retry (``workers.delivery``), so
  a Rally that ignores the Idempotency-Key still gets each submission once;
- permanent (400 and other 4xx): return normally, the user is told at once, with an
  "Edit and retry" button that reopens the modal with what they entered.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import redis
from slack_sdk.errors import SlackApiError, SlackClientError

from api_client import AuthenticationError, NotFoundError, RallyError
from api_client.models import format_utc
from core.redis import worker_redis
from core.settings import Settings
from slack_ui import messages
from workers import delivery, queues, workspace
from workers.rally import rally_client
from workers.records import names_for, note_seen, record_pairs
from workers.slack import deliver
from workers.state import Origin, State
from workers.threads import Thread, ThreadUnreadable, thread_note_body

log = logging.getLogger(__name__)


def _settings() -> Settings:
    # Read per job, not cached: each job runs in a fresh work horse anyway, and tests
    # run jobs in-process under different environments.
    return Settings()


def idempotency_key(submission_id: str) -> str:
    """The Idempotency-Key of a submission's create call (the same on every retry)."""
    return f"slack-{submission_id}"


def _subject(request: dict[str, Any]) -> str:
    return str(request.get("subject") or "").strip() or "(no subject)"


def create_activity(
    submission_id: str,
    request: dict[str, Any],
    origin: dict[str, Any],
    thread: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create one activity in Rally and queue telling the user how it went.

    Args:
        submission_id: The Slack submission this came from (also names the Idempotency-Key).
        request: ``CreateActivityRequest`` in wire JSON.
        origin: ``{"team", "channel", "user"}``.
        thread: ``{"channel", "ts"}`` of a Slack thread whose messages become the body
            ("Log thread as note"): read here, kept in Redis before the create, so every
            retry sends the same body under the same Idempotency-Key.

    Returns:
        ``{"status": "created", "id": ...}`` or ``{"status": "rejected", ...}``.

    Raises:
        RallyError: a transient API failure, for RQ to retry.
    """
    settings = _settings()
    conn = worker_redis(settings.redis_url)
    try:
        as_whom = workspace.credential(settings, origin.get("team"), origin.get("user"))
    except workspace.NotConnected:
        return _reject(conn, settings, submission_id, request, origin, NOT_CONNECTED, {})
    if as_whom.personal:
        # Their own key: Rally makes them the owner and checks what they may do.
        request = {k: v for k, v in request.items() if k != "ownerId"}
    if thread is not None:
        try:
            request = {
                **request,
                "body": _thread_body(conn, settings, submission_id, thread, origin),
            }
        except (ThreadUnreadable, workspace.NotInstalled) as exc:
            reason = exc.reason if isinstance(exc, ThreadUnreadable) else NOT_INSTALLED
            log.info(
                "event=thread_unreadable submission=%s channel=%s error=%s",
                submission_id,
                thread.get("channel"),
                getattr(exc, "error", "not_installed"),
            )
            return _reject(conn, settings, submission_id, request, origin, reason, {})
    try:
        with rally_client(as_whom, use="activities") as rally:
            activity, adopted = delivery.create_once(
                rally,
                conn,
                as_whom,
                submission_id=submission_id,
                request=request,
                idempotency_key=idempotency_key(submission_id),
            )
    except RallyError as exc:
        if exc.retryable:
            log.warning(
                "event=create_transient_failure submission=%s user=%s error=%s",
                submission_id,
                origin.get("user"),
                type(exc).__name__,
            )
            raise
        field_errors = dict(getattr(exc, "field_errors", None) or {})
        log.info(
            "event=create_rejected submission=%s user=%s status=%s fields=%s",
            submission_id,
            origin.get("user"),
            exc.status_code,
            ",".join(field_errors),
        )
        reason = permanent_reason(exc, personal=as_whom.personal)
        return _reject(conn, settings, submission_id, request, origin, reason, field_errors)

    wire = activity.model_dump(by_alias=True, mode="json")
    _remember(settings, origin, wire, personal=as_whom.personal)
    _seen(conn, settings, origin, wire, as_whom)
    State(conn).record_origin(
        wire["id"],
        Origin(
            team=origin["team"],
            channel=origin.get("channel"),
            user=origin["user"],
            activity_type=wire["activityType"],
            subject=wire["subject"],
            logged_at=format_utc(datetime.now(UTC)),
        ),
    )
    log.info(
        "event=activity_created submission=%s activity=%s team=%s user=%s type=%s adopted=%s",
        submission_id,
        wire["id"],
        origin.get("team"),
        origin.get("user"),
        wire["activityType"],
        adopted,
    )
    queues.enqueue_notify(
        conn,
        settings=settings,
        submission_id=submission_id,
        outcome={"ok": True, "activity": wire, "origin": origin},
    )
    return {"status": "created", "id": wire["id"]}


NOT_INSTALLED = "Rally isn't installed in this workspace any more, so it can't read the thread."


def _thread_body(
    conn: redis.Redis,
    settings: Settings,
    submission_id: str,
    thread: dict[str, Any],
    origin: dict[str, Any],
) -> str:
    """The thread as the note's body: the one kept for this submission, else read now."""
    state = State(conn)
    if (kept := state.thread_body(submission_id)) is not None:
        return kept
    slack = workspace.slack_client(settings, origin.get("team"), retries="all")
    transcript = thread_note_body(
        slack,
        state,
        Thread(
            team=str(origin.get("team")),
            channel=str(thread["channel"]),
            ts=str(thread["ts"]),
            user=str(origin.get("user")),
        ),
    )
    return state.keep_thread_body(submission_id, transcript.body, queues.RESULT_TTL)


NOT_CONNECTED = (
    "this workspace isn't connected to Rally yet; an admin connects it from the app's "
    "Home tab (Connect Rally)."
)


def _reject(
    conn: redis.Redis,
    settings: Settings,
    submission_id: str,
    request: dict[str, Any],
    origin: dict[str, Any],
    reason: str,
    field_errors: dict[str, list[str]],
) -> dict[str, Any]:
    """Tell the submitter at once, with Edit and retry (a permanent refusal)."""
    queues.enqueue_notify(
        conn,
        settings=settings,
        submission_id=submission_id,
        outcome={
            "ok": False,
            "reason": reason,
            "field_errors": field_errors,
            "retryable": True,
            "activity_type": request.get("activityType"),
            "subject": _subject(request),
            "origin": origin,
        },
    )
    return {"status": "rejected", "reason": reason, "field_errors": field_errors}


def rejection_outcome(
    request: dict[str, Any], origin: dict[str, Any], rejection: dict[str, Any]
) -> dict[str, Any]:
    """The outcome telling a submitter their create was refused (or gave up), with Edit
    and retry; ``rejection`` is ``{"rejected": reason, "field_errors": {...}}``."""
    return {
        "ok": False,
        "reason": str(rejection.get("rejected") or "Rally refused the request."),
        "field_errors": dict(rejection.get("field_errors") or {}),
        "retryable": True,
        "activity_type": request.get("activityType"),
        "subject": _subject(request),
        "origin": origin,
    }


def _remember(
    settings: Settings, origin: dict[str, Any], wire: dict[str, Any], *, personal: bool
) -> None:
    """The audit trail's entry; and with a person's own key, which Rally owner they are."""
    team, user = origin.get("team"), origin.get("user")
    if not team:
        return
    store = workspace.store_of(settings)
    store.audit(
        team,
        user,
        "logged",
        surface=str(origin.get("surface") or "slack"),
        activity_id=wire["id"],
        type=wire["activityType"],
    )
    if personal and user and wire.get("ownerId"):
        store.set_personal_key_status(team, user, "ok", owner_id=wire["ownerId"])
        # Reminders name the owner as this person from now on.
        store.set_owner(team, user, wire["ownerId"], by=user)


def permanent_reason(exc: RallyError, *, personal: bool = False) -> str:
    if isinstance(exc, AuthenticationError) and personal:
        return (
            "Rally refused your own API key; connect it again with `/rally connect`, "
            "or `/rally disconnect` to log with the workspace's."
        )
    if isinstance(exc, AuthenticationError):
        return "Rally refused this app's API key; ask whoever installed the app to check it."
    if isinstance(exc, NotFoundError):
        return "Rally could not find a record it refers to."
    if getattr(exc, "field_errors", None):
        return "Rally refused some of what you entered."
    return "Rally refused the request."


def on_create_failed(job: Any, connection: redis.Redis, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback of ``create_activity``: tell the user once retries are spent.

    RQ 3 runs a failure callback after every failed attempt, before deciding whether to
    retry, so an attempt that will be retried is ignored here.
    """
    # RQ 3 counts retries of a raised exception only as ``retries_left``; count attempts
    # here so the user hears how hard we tried.
    attempts = int(job.meta.get("attempts", 0)) + 1
    job.meta["attempts"] = attempts
    job.save_meta()
    if job.should_retry:
        return
    kwargs = job.kwargs
    request = kwargs.get("request", {})
    log.warning(
        "event=create_gave_up submission=%s attempts=%s error=%s",
        kwargs.get("submission_id"),
        attempts,
        getattr(exc_type, "__name__", exc_type),
    )
    tries = f" after {attempts} tries" if attempts > 1 else ""
    if isinstance(exc, RallyError):
        reason = f"Rally could not be reached{tries}. Try again in a few minutes."
    elif isinstance(exc, SlackApiError | SlackClientError | OSError):
        reason = f"Slack would not give Rally the thread{tries}. Try again in a few minutes."
    else:
        # A fault of ours, not Rally's: say so rather than blame the API.
        reason = f"something went wrong on our side{tries} (job {job.id}). Try again, or tell your Slack admin."
    queues.enqueue_notify(
        connection,
        settings=_settings(),
        submission_id=kwargs["submission_id"],
        outcome={
            "ok": False,
            "reason": reason,
            "field_errors": {},
            "retryable": True,
            "activity_type": request.get("activityType"),
            "subject": _subject(request),
            "origin": kwargs.get("origin", {}),
        },
    )


def _seen(
    conn: Any, settings: Any, origin: dict[str, Any], wire: dict[str, Any], as_whom: Any
) -> None:
    """The records the new activity is on are known to the menus at once (not only after
    the next sync); the tenant's index, whoever's key logged it."""
    pairs = record_pairs(wire)
    if not pairs:
        return
    try:
        tenant = (
            workspace.workspace_credential(settings, origin.get("team"))
            if as_whom.personal
            else as_whom
        )
        if tenant is None:
            return
        pipe = conn.pipeline(transaction=False)
        now = int(datetime.now(UTC).timestamp())
        note_seen(pipe, tenant.namespace, [(kind, rid, now) for kind, rid in pairs])
        pipe.execute()
    except Exception as exc:  # the activity is in Rally: never fail (or retry) for this
        log.info("event=seen_not_noted activity=%s error=%s", wire.get("id"), type(exc).__name__)


def notify_outcome(submission_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """Tell the submitter how their submission ended, where they started.

    Args:
        submission_id: The submission (its response URL and form values are in state).
        outcome: ``{"ok": True, "activity": {...}, "origin": {...}}`` or ``{"ok": False,
            "reason", "field_errors", "activity_type", "subject", "origin"}``.

    Returns:
        The route taken: ``{"route": "response_url" | "ephemeral" | "dm"}``.
    """
    settings = _settings()
    state = State(worker_redis(settings.redis_url))
    origin = outcome.get("origin") or {}
    try:
        # 429s are waited out here; any other failure is RQ's to retry, with backoff.
        slack = workspace.slack_client(settings, origin.get("team"), retries="rate_limits")
    except workspace.NotInstalled:
        log.warning("event=notify_skipped submission=%s reason=not_installed", submission_id)
        return {"route": "none"}
    return {"route": tell_one(settings, state, slack, submission_id, outcome)}


def tell_one(
    settings: Settings, state: State, slack: Any, submission_id: str, outcome: dict[str, Any]
) -> str:
    """Show one submission's outcome to its submitter (see :func:`notify_outcome`).

    Returns:
        The route taken.

    Raises:
        SlackApiError: Slack refused even the direct message (the caller retries).
    """
    submission = state.get_submission(submission_id)
    origin = outcome.get("origin") or {}
    if outcome.get("ok"):
        activity = outcome["activity"]
        names = names_for(workspace.store_of(settings), origin.get("team"), record_pairs(activity))
        message = messages.confirmation(activity, app_url=settings.rally_app_url, names=names)
    else:
        message = messages.failure(
            activity_type=str(outcome.get("activity_type") or "activity"),
            subject=str(outcome.get("subject") or ""),
            reason=str(outcome.get("reason") or "unknown error"),
            field_errors=outcome.get("field_errors") or {},
            submission_id=submission_id if submission is not None else None,
            retryable=bool(outcome.get("retryable")),
        )
    delivered = deliver(
        slack,
        user=origin["user"],
        channel=origin.get("channel"),
        message=message,
        response_url=submission.response_url if submission else None,
    )
    if not outcome.get("ok") and submission is not None:
        # "Edit and retry" shows why the last attempt failed, beside the kept input.
        submission.extra["last_error"] = {
            "reason": outcome.get("reason"),
            "field_errors": outcome.get("field_errors") or {},
        }
        state.save_submission(submission)
    if outcome.get("ok"):
        activity_id = outcome["activity"]["id"]
        if delivered.channel and delivered.ts:
            state.set_confirmation(activity_id, delivered.channel, delivered.ts)
        # Logged: nothing left to edit and retry.
        state.delete_submissions([submission_id])
    log.info(
        "event=outcome_delivered submission=%s ok=%s route=%s user=%s",
        submission_id,
        bool(outcome.get("ok")),
        delivered.route,
        origin.get("user"),
    )
    return delivered.route


def on_notify_failed(job: Any, connection: redis.Redis, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback of ``notify_outcome``: once every retry is spent, keep the outcome.

    Slack has refused (or been unreachable) for as long as the submission is kept. The
    outcome goes to the user's App Home, which shows it the next time they open it, and
    an alertable event is logged; the outcome is never dropped without a trace.
    """
    if job.should_retry:
        return
    kwargs = job.kwargs
    outcome = kwargs.get("outcome") or {}
    origin = outcome.get("origin") or {}
    log.error(
        "event=notify_gave_up alert=true submission=%s team=%s user=%s ok=%s error=%s",
        kwargs.get("submission_id"),
        origin.get("team"),
        origin.get("user"),
        bool(outcome.get("ok")),
        getattr(exc_type, "__name__", exc_type),
    )
    if origin.get("team") and origin.get("user"):
        State(connection).add_undelivered(
            origin["team"], origin["user"], undelivered_entry(kwargs.get("submission_id"), outcome)
        )


def undelivered_entry(submission_id: Any, outcome: dict[str, Any]) -> dict[str, Any]:
    """What App Home needs to show an outcome Slack never let us tell (plain JSON)."""
    if outcome.get("ok"):
        activity = outcome.get("activity") or {}
        return {
            "ok": True,
            "activity_type": activity.get("activityType"),
            "subject": activity.get("subject"),
            "activity_id": activity.get("id"),
            "at": format_utc(datetime.now(UTC)),
        }
    return {
        "ok": False,
        "activity_type": outcome.get("activity_type"),
        "subject": outcome.get("subject"),
        "reason": outcome.get("reason"),
        "submission_id": submission_id,
        "at": format_utc(datetime.now(UTC)),
    }
