"""Workflow Builder steps (SPEC §7): **Log an activity** and **Complete a task**.

Slack's ``function_executed`` event is acknowledged at once by the bot, which queues
:func:`run_step`; the job does the work and ends the step with ``functions.completeSuccess``
(its outputs) or ``functions.completeError`` (a sentence a workflow author can act on:
which input, what was wrong).

Exactly once per ``function_execution_id``: the job's id is derived from it (a second
delivery of the event queues nothing), the create carries an Idempotency-Key derived from
it (a job retried after its worker died creates nothing twice), and a step already ended
is recognised (``execution_not_in_running_state``) and left as it is.

The step's short-lived token never reaches a job's arguments: the bot keeps it encrypted
in Redis for the execution's lifetime (:func:`keep_token`) and the job reads it back; with
no key ring configured, the job ends the step with the workspace's bot token instead.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

import pydantic
import redis
from slack_sdk.errors import SlackApiError

from api_client import ActivityChanges, NotFoundError, RallyError, merge
from api_client.models import ActivityType, CreateActivityRequest, Status
from core.redis import worker_redis
from core.secrets import Cipher, CredentialsUnreadable
from core.settings import Settings
from slack_ui import ids
from slack_ui.messages import activity_url
from workers import workspace
from workers.rally import rally_client

log = logging.getLogger(__name__)

TOKEN_TTL_SECONDS: Final = 30 * 60
"""How long the bot keeps a step's token: past the time Slack lets a step run."""
DONE_TTL_SECONDS: Final = 7 * 24 * 3600

# The Log an activity step's inputs, by their names in manifest.yml, to the wire names.
LOG_INPUTS: Final[dict[str, str]] = {
    "activity_type": "activityType",
    "subject": "subject",
    "body": "body",
    "deal_id": "dealId",
    "company_id": "companyId",
    "contact_id": "contactId",
    "due_date": "dueDate",
    "priority": "priority",
}
INPUT_LABELS: Final = {wire: name for name, wire in LOG_INPUTS.items()}


class StepRefused(Exception):
    """An input the step cannot use: ``str()`` is the sentence the workflow author sees."""


def _token_key(execution_id: str) -> str:
    return f"rally:step-token:{execution_id}"


def _done_key(execution_id: str) -> str:
    return f"rally:step-done:{execution_id}"


def keep_token(conn: redis.Redis, settings: Settings, execution_id: str, token: str) -> bool:
    """Keep a step's token, encrypted, until the step has surely ended (bot side)."""
    keys = settings.encryption_keys()
    if not keys or not token:
        return False
    conn.set(_token_key(execution_id), Cipher(keys).encrypt(token), ex=TOKEN_TTL_SECONDS)
    return True


def _step_token(conn: redis.Redis, settings: Settings, execution_id: str) -> str | None:
    raw = conn.get(_token_key(execution_id))
    keys = settings.encryption_keys()
    if raw is None or not keys:
        return None
    try:
        return Cipher(keys).decrypt(raw.decode() if isinstance(raw, bytes) else str(raw))
    except CredentialsUnreadable:
        return None


def run_step(
    execution_id: str, callback_id: str, team: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    """RQ job: run one Workflow Builder step and end it, once.

    Args:
        execution_id: Slack's ``function_execution_id``.
        callback_id: Which step (``rally_log_activity`` or ``rally_complete_task``).
        team: The workspace the workflow runs in.
        inputs: The step's inputs as Slack sent them.

    Returns:
        ``{"status": "completed" | "failed" | "already", ...}``.

    Raises:
        RallyError: Rally failed transiently: RQ retries the job (the create is idempotent).
    """
    settings = Settings()
    conn = worker_redis(settings.redis_url)
    if conn.exists(_done_key(execution_id)):
        return {"status": "already"}
    try:
        if callback_id == ids.LOG_ACTIVITY_STEP:
            outputs = _log_activity(settings, team, execution_id, inputs)
        elif callback_id == ids.COMPLETE_TASK_STEP:
            outputs = _complete_task(settings, team, inputs)
        else:
            raise StepRefused(f"this app has no step called {callback_id}")
    except StepRefused as exc:
        _end(settings, conn, team, execution_id, error=str(exc))
        return {"status": "failed", "error": str(exc)}
    except RallyError as exc:
        if exc.retryable:
            raise
        message = _rally_refusal(exc)
        _end(settings, conn, team, execution_id, error=message)
        return {"status": "failed", "error": message}
    _end(settings, conn, team, execution_id, outputs=outputs)
    return {"status": "completed", "outputs": outputs}


def _log_activity(
    settings: Settings, team: str, execution_id: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    for name, wire_name in LOG_INPUTS.items():
        value = inputs.get(name)
        if value in (None, ""):
            continue
        if name == "due_date":
            value = _timestamp(value)
        elif not isinstance(value, str):
            raise StepRefused(f"The {name} input must be text, not {type(value).__name__}.")
        wire[wire_name] = value.strip() if isinstance(value, str) else value
    wire.setdefault("activityType", "note")
    try:
        request = CreateActivityRequest.model_validate(wire)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = INPUT_LABELS.get(str(first["loc"][0]) if first["loc"] else "", "subject")
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise StepRefused(f"The {field} input {reason}.") from None
    logged_by = inputs.get("logged_by") if isinstance(inputs.get("logged_by"), str) else None
    # Whoever builds a workflow chooses logged_by, so it is never a key to borrow: the
    # step logs with the workspace's connection, and logged_by only picks the Rally owner
    # that person is mapped to (``/rally me``: set by admins, or by themselves where the
    # workspace allows it), as a modal would for them.
    store = workspace.store_of(settings)
    if logged_by:
        owner = store.owner(team, logged_by)
        if owner:
            request = request.model_copy(update={"owner_id": owner})
    try:
        as_whom = workspace.credential(settings, team)
    except workspace.NotConnected:
        raise StepRefused(
            "This workspace isn't connected to Rally: an admin connects it from the Rally "
            "app's Home tab."
        ) from None
    with rally_client(as_whom, use="activities") as rally:
        activity = rally.create_activity(request, idempotency_key=f"step-{execution_id}")
    store.audit(
        team,
        logged_by,
        "logged",
        surface="workflow",
        activity_id=activity.id,
        type=activity.activity_type.value,
    )
    log.info("event=step_logged execution=%s team=%s activity=%s", execution_id, team, activity.id)
    return {
        "activity_id": activity.id,
        "activity_url": activity_url(settings.rally_app_url, activity.id) or "",
    }


def _complete_task(settings: Settings, team: str, inputs: dict[str, Any]) -> dict[str, Any]:
    activity_id = inputs.get("activity_id")
    if not isinstance(activity_id, str) or not activity_id.strip():
        raise StepRefused("The activity_id input is empty: give the id of the task to complete.")
    try:
        credential = workspace.credential(settings, team)
    except workspace.NotConnected:
        raise StepRefused("This workspace isn't connected to Rally.") from None
    with rally_client(credential, use="actions") as rally:
        try:
            task = rally.get_activity(activity_id.strip())
        except (NotFoundError, ValueError):
            raise StepRefused(
                f"The activity_id input names no activity this workspace can see ({activity_id[:40]})."
            ) from None
        if task.activity_type != ActivityType.TASK:
            raise StepRefused(
                f"The activity_id input is a {task.activity_type.value}, not a task: only tasks complete."
            )
        if task.status != Status.COMPLETED:
            task = rally.update_activity(
                task.id, merge(task, ActivityChanges(status=Status.COMPLETED))
            )
    workspace.store_of(settings).audit(
        team, None, "completed", surface="workflow", activity_id=task.id
    )
    return {"activity_id": task.id}


def _timestamp(value: Any) -> str:
    if type(value) is int or (isinstance(value, str) and value.isascii() and value.isdigit()):
        seconds = int(value)
        if 946_684_800 <= seconds < 4_102_444_800:  # 2000..2100
            return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
    raise StepRefused("The due_date input must be a date and time (a Slack timestamp).")


def _rally_refusal(exc: RallyError) -> str:
    errors = getattr(exc, "field_errors", None) or {}
    if errors:
        wire, messages = next(iter(errors.items()))
        field = INPUT_LABELS.get(wire, wire)
        return f"Rally refused the {field} input: {'; '.join(messages)}."
    return f"Rally refused the step ({exc.status_code or 'error'}): {exc}."[:300]


def _end(
    settings: Settings,
    conn: redis.Redis,
    team: str,
    execution_id: str,
    *,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """End the step once: completeSuccess or completeError, with the step's own token."""
    client = workspace.slack_client(settings, team)
    token = _step_token(conn, settings, execution_id)
    if token:
        client.token = token
    try:
        if error is None:
            client.functions_completeSuccess(
                function_execution_id=execution_id, outputs=outputs or {}
            )
        else:
            client.functions_completeError(function_execution_id=execution_id, error=error[:1000])
    except SlackApiError as exc:
        if exc.response.get("error") not in (
            "execution_not_in_running_state",
            "function_execution_not_found",
        ):
            raise
        log.info("event=step_already_ended execution=%s", execution_id)
    conn.set(_done_key(execution_id), "1", ex=DONE_TTL_SECONDS)
    conn.delete(_token_key(execution_id))
    log.info("event=step_ended execution=%s ok=%s", execution_id, error is None)


def on_step_failed(job: Any, connection: redis.Redis, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback of :func:`run_step`: once retries are spent, end the step with a
    reason, so the workflow does not wait until Slack times it out."""
    if job.should_retry:
        return
    kwargs = job.kwargs
    reason = (
        "Rally could not be reached after several tries; nothing was logged. Run the "
        "workflow again in a few minutes."
        if isinstance(exc, RallyError)
        else "The Rally app failed on its side; nothing was logged. Tell your Slack admin."
    )
    log.error("event=step_gave_up alert=true execution=%s", kwargs.get("execution_id"))
    try:
        _end(Settings(), connection, kwargs["team"], kwargs["execution_id"], error=reason)
    except Exception as exc2:  # Slack down too: the step times out on Slack's side
        log.warning("event=step_end_failed error=%s", type(exc2).__name__)
