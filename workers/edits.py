"""Edit and delete a logged activity from its confirmation (SPEC §7): the jobs.

- :func:`open_edit_form`: GET the activity and turn the "reading it" modal into its form.
- :func:`apply_edit`: lay the form's fields over the activity and PUT it; re-index a task
  (an edited due date is reminded at the new time); the confirmation says "Edited by".
- :func:`delete_activity`: DELETE it; a task leaves the reminder index; the confirmation
  says "Deleted by".

Each re-checks who may (the person who logged it from Slack, or an admin): the button
and the form may be old, or forged. Rally is called as the person when they connected
their own key. Every edit and delete goes to the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from api_client import ActivityResponse, NotFoundError, RallyError, merge
from core.redis import worker_redis
from core.settings import Settings
from slack_ui.kit import SlackMessage
from slack_ui.messages import confirmation, deleted, escape
from slack_ui.modals import build_loading, build_log_modal, form_wire_fields, values_from_request
from workers import workspace
from workers.rally import rally_client
from workers.records import names_for, record_pairs
from workers.reminders.index import TaskIndex
from workers.slack import is_admin, response_url_allowed, retry_handlers, tell_user
from workers.state import State

log = logging.getLogger(__name__)

NOT_YOURS = (
    ":no_entry: Only the person who logged this, or a workspace admin, can change it. "
    "Nothing changed."
)


@dataclass
class _Edit:
    """One Edit or Delete, and what its steps share."""

    settings: Settings
    team: str
    user: str
    activity_id: str
    channel: str | None
    message_ts: str | None
    response_url: str | None
    slack: WebClient
    state: State

    @classmethod
    def start(cls, **fields: Any) -> _Edit:
        settings = Settings()
        return cls(
            settings=settings,
            slack=workspace.slack_client(settings, fields["team"]),
            state=State(worker_redis(settings.redis_url)),
            **fields,
        )

    def allowed(self) -> bool:
        origin = self.state.get_origin(self.activity_id)
        if origin is not None and (origin.team, origin.user) == (self.team, self.user):
            return True
        return is_admin(self.slack, self.state, self.team, self.user)

    def tell(self, text: str) -> None:
        tell_user(self.slack, {"user_id": self.user, "response_url": self.response_url}, text)

    def show(self, message: SlackMessage) -> None:
        """Replace the confirmation: in place when it is a real message, else through the
        click's response URL (an ephemeral one can only be replaced that way)."""
        payload = message.to_dict()
        try:
            if self.channel and self.message_ts:
                self.slack.chat_update(channel=self.channel, ts=self.message_ts, **payload)
                return
            if self.response_url and response_url_allowed(self.response_url, self.slack.base_url):
                WebhookClient(self.response_url, timeout=10, retry_handlers=retry_handlers()).send(
                    **payload, replace_original=True
                )
        except Exception as exc:  # the change is made; a stale confirmation is not worth failing
            log.info(
                "event=confirmation_update_failed activity=%s error=%s",
                self.activity_id,
                type(exc).__name__,
            )

    def index(self) -> TaskIndex | None:
        credential = workspace.workspace_credential(self.settings, self.team)
        if credential is None:
            return None
        return TaskIndex(self.state.conn, credential.namespace)


def open_edit_form(
    team: str,
    user: str,
    activity_id: str,
    view_id: str,
    channel: str | None = None,
    message_ts: str | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """RQ job: the Edit form, prefilled from a GET of the activity, into the opened modal."""
    edit = _Edit.start(
        team=team,
        user=user,
        activity_id=activity_id,
        channel=channel,
        message_ts=message_ts,
        response_url=response_url,
    )
    if not edit.allowed():
        edit.slack.views_update(view_id=view_id, view=build_loading(NOT_YOURS).to_dict())
        return {"status": "refused"}
    try:
        as_whom = workspace.credential(edit.settings, team, user)
        with rally_client(as_whom, use="actions") as rally:
            activity = rally.get_activity(activity_id)
    except (workspace.NotConnected, NotFoundError):
        edit.slack.views_update(
            view_id=view_id,
            view=build_loading(
                "That activity isn't in Rally any more, so there is nothing to edit."
            ).to_dict(),
        )
        return {"status": "gone"}
    except RallyError as exc:
        edit.slack.views_update(
            view_id=view_id,
            view=build_loading(
                f":warning: Rally didn't answer ({type(exc).__name__}); close this and try Edit again."
            ).to_dict(),
        )
        return {"status": "failed"}
    kind = activity.activity_type.value
    wire = activity.model_dump(by_alias=True, mode="json", exclude_none=True)
    view = build_log_modal(
        kind,
        values=values_from_request(wire),
        names=names_for(workspace.store_of(edit.settings), team, record_pairs(wire)),
        metadata={
            "activity_id": activity_id,
            "type": kind,
            "channel": channel,
            "message_ts": message_ts,
            "response_url": response_url,
        },
        editing=True,
    )
    try:
        edit.slack.views_update(view_id=view_id, view=view.to_dict())
    except SlackApiError as exc:  # closed meanwhile
        log.info("event=edit_form_gone view=%s error=%s", view_id, exc.response.get("error"))
        return {"status": "closed"}
    return {"status": "opened"}


def apply_edit(
    team: str,
    user: str,
    activity_id: str,
    request: dict[str, Any],
    channel: str | None = None,
    message_ts: str | None = None,
    response_url: str | None = None,
    kept: list[str] | None = None,
) -> dict[str, Any]:
    """RQ job: save an edit (the form's fields over the activity, one PUT); ``kept``
    names fields the form could not show (a thread's long details), left as they are."""
    edit = _Edit.start(
        team=team,
        user=user,
        activity_id=activity_id,
        channel=channel,
        message_ts=message_ts,
        response_url=response_url,
    )
    if not edit.allowed():
        edit.tell(NOT_YOURS)
        return {"status": "refused"}
    changes = {k: v for k, v in request.items() if k != "activityType"}
    # What the form shows and left empty is cleared; what it does not show is kept.
    for name in form_wire_fields(str(request.get("activityType"))):
        if name not in (kept or ()):
            changes.setdefault(name, None)
    try:
        as_whom = workspace.credential(edit.settings, team, user)
        with rally_client(as_whom, use="actions") as rally:
            current = rally.get_activity(activity_id)
            updated = rally.update_activity(activity_id, merge(current, changes))
    except workspace.NotConnected:
        edit.tell(":warning: This workspace isn't connected to Rally, so nothing changed.")
        return {"status": "failed"}
    except NotFoundError:
        edit.tell("That activity isn't in Rally any more, so nothing was changed.")
        return {"status": "gone"}
    except RallyError as exc:
        edit.tell(
            f":warning: Rally didn't take the edit ({escape(str(exc))[:200]}); nothing changed."
        )
        return {"status": "failed"}
    index = edit.index()
    if index is not None:
        index.apply(updated)
    workspace.store_of(edit.settings).audit(
        team, user, "edited", surface="confirmation", activity_id=activity_id
    )
    wire = updated.model_dump(by_alias=True, mode="json")
    names = names_for(workspace.store_of(edit.settings), team, record_pairs(wire))
    edit.show(
        confirmation(
            wire, app_url=edit.settings.rally_app_url, note=f"Edited by <@{user}>", names=names
        )
    )
    log.info("event=activity_edited team=%s user=%s activity=%s", team, user, activity_id)
    return {"status": "edited"}


def delete_activity(
    team: str,
    user: str,
    activity_id: str,
    channel: str | None = None,
    message_ts: str | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """RQ job: delete the activity in Rally; its reminders stop; the confirmation says so."""
    edit = _Edit.start(
        team=team,
        user=user,
        activity_id=activity_id,
        channel=channel,
        message_ts=message_ts,
        response_url=response_url,
    )
    if not edit.allowed():
        edit.tell(NOT_YOURS)
        return {"status": "refused"}
    origin = edit.state.get_origin(activity_id)
    shown: dict[str, Any] = {
        "id": activity_id,
        "activityType": origin.activity_type if origin else "activity",
        "subject": origin.subject if origin else "",
    }
    try:
        as_whom = workspace.credential(edit.settings, team, user)
        with rally_client(as_whom, use="actions") as rally:
            try:
                current: ActivityResponse | None = rally.get_activity(activity_id)
            except NotFoundError:
                current = None
            if current is not None:
                shown = current.model_dump(by_alias=True, mode="json")
                rally.delete_activity(activity_id)
    except workspace.NotConnected:
        edit.tell(":warning: This workspace isn't connected to Rally, so nothing changed.")
        return {"status": "failed"}
    except RallyError as exc:
        edit.tell(f":warning: Rally didn't delete it ({type(exc).__name__}); nothing changed.")
        return {"status": "failed"}
    index = edit.index()
    if index is not None:
        index.remove(activity_id)
    workspace.store_of(edit.settings).audit(
        team, user, "deleted", surface="confirmation", activity_id=activity_id
    )
    edit.show(deleted(shown, by=user))
    log.info("event=activity_deleted team=%s user=%s activity=%s", team, user, activity_id)
    return {"status": "deleted"}
