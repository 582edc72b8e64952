"""``/rally``: help, modals, quick-create, link/unlink, me (SPEC §4).

Each subcommand is a plain function ``(ack, command, client, services, parsed) -> None``
in ``SUBCOMMANDS``, keyed by the parsed command's class.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.forms import FormErrors, validate_wire, values_from_request
from bot.parsing import (
    Command,
    HelpCommand,
    InvalidCommand,
    LinkCommand,
    MeCommand,
    OpenModalCommand,
    QuickCreateCommand,
    QuickCreateError,
    ShowLinkCommand,
    TasksCommand,
    UnlinkCommand,
    parse_command,
)
from bot.services import QueueUnavailable, Services, services_of, submission_id_for_command
from slack_ui import ids
from slack_ui.help import build_help
from slack_ui.messages import escape
from slack_ui.modals import build_log_modal, default_values
from slack_ui.tasks import record_link, tasks_message
from workers.open_tasks import namespace_of, open_tasks_page

log = logging.getLogger(__name__)

DATE_TOKEN_RE = re.compile(r"(?i)(?:^|\s)(?:due|at):")
Handler = Callable[[Any, dict[str, Any], WebClient, Services, Any], None]
REDIS_DOWN = (
    ":warning: Rally couldn't take this right now (its queue is unreachable). "
    "Nothing was logged; here is what you typed, to send again in a moment:"
)


def handle_rally_command(
    ack: Any, command: dict[str, Any], client: WebClient, context: Any
) -> None:
    """Dispatch ``/rally <text>`` to its subcommand handler."""
    parsed = parse_command(command.get("text") or "")
    handler: Callable[..., None] = SUBCOMMANDS.get(type(parsed), _help)
    handler(ack, command, client, services_of(context), parsed)


def _help(
    ack: Any, command: dict[str, Any], client: WebClient, services: Services, parsed: Any
) -> None:
    notice = None
    if isinstance(parsed, HelpCommand) and parsed.unknown:
        notice = f"I don't know `{escape(parsed.unknown)}`. Here is what `/rally` does:"
    ack(**build_help(notice=notice))


def _invalid(
    ack: Any, command: dict[str, Any], client: WebClient, services: Services, parsed: InvalidCommand
) -> None:
    lines = "\n".join(f"• {escape(m)}" for m in parsed.messages)
    ack(text=f":warning: {lines}\nUsage: `{escape(parsed.usage)}`")


def link_prefill(services: Services, team: str | None, channel: str | None) -> dict[str, Any]:
    """Modal values for the channel's bound record ({} when unbound or Redis is down)."""
    if not team or not channel:
        return {}
    try:
        link = services.state.get_link(team, channel)
    except redis.RedisError:
        return {}
    return {link.kind: link.id} if link else {}


def _open_modal(
    ack: Any,
    command: dict[str, Any],
    client: WebClient,
    services: Services,
    parsed: OpenModalCommand,
) -> None:
    ack()
    respond = Respond(response_url=command.get("response_url"))
    kind = parsed.activity_type.value
    values = default_values(kind) | link_prefill(
        services, command.get("team_id"), command.get("channel_id")
    )
    view = build_log_modal(
        kind,
        values=values,
        metadata={
            "channel": command.get("channel_id"),
            "response_url": command.get("response_url"),
        },
    )
    try:
        client.views_open(trigger_id=command["trigger_id"], view=view)
    except SlackApiError as exc:
        # Usually an expired trigger (Slack was slow to deliver): say so instead of nothing.
        log.warning(
            "event=views_open_failed user=%s error=%s",
            command.get("user_id"),
            exc.response.get("error"),
        )
        respond(
            text=f"I couldn't open the {kind} form (Slack said `{exc.response.get('error')}`). "
            f"Please try `/rally {kind}` again.",
            response_type="ephemeral",
        )


def _quick_create(
    ack: Any,
    command: dict[str, Any],
    client: WebClient,
    services: Services,
    parsed: QuickCreateCommand,
) -> None:
    team, user, channel = command["team_id"], command["user_id"], command.get("channel_id")
    # Only dates need the user's zone: skip the users.info round trip otherwise.
    tz, tz_known = (
        services.user_tz(team, user) if DATE_TOKEN_RE.search(parsed.text) else ("UTC", True)
    )
    kind = parsed.activity_type.value
    try:
        quick = parsed.parse(tz=tz, now=datetime.now(UTC))
    except QuickCreateError as exc:
        lines = "\n".join(f"• {escape(m)}" for m in exc.messages)
        ack(text=f":warning: I couldn't read that {kind}:\n{lines}")
        return
    wire = quick.request_body()
    try:
        link = services.state.get_link(team, channel) if channel else None
        owner = services.state.get_owner(team, user)
    except redis.RedisError:
        _redis_down_reply(ack, command)
        return
    if link is not None:
        wire[f"{link.kind}Id"] = link.id
    if owner:
        wire["ownerId"] = owner
    try:
        request = validate_wire(wire)
    except FormErrors as exc:
        ack(text=":warning: " + " ".join(escape(m) for m in exc.errors.values()))
        return
    submission_id = submission_id_for_command(
        team, user, command.get("text") or "", command.get("trigger_id") or ""
    )
    try:
        services.submit(
            submission_id=submission_id,
            activity_type=kind,
            request=request,
            values=values_from_request(request),
            team=team,
            user=user,
            channel=channel,
            response_url=command.get("response_url"),
            source="command",
        )
    except QueueUnavailable:
        _redis_down_reply(ack, command)
        return
    note = "" if tz_known else " (times read in UTC: I couldn't get your Slack time zone)"
    ack(text=f":hourglass_flowing_sand: Logging {kind} *{escape(quick.subject)}*…{note}")


def _redis_down_reply(ack: Any, command: dict[str, Any]) -> None:
    typed = f"{command.get('command', ids.RALLY_COMMAND)} {command.get('text', '')}".strip()
    ack(text=f"{REDIS_DOWN}\n```{escape(typed)}```")


def list_open_tasks(
    ack: Any, command: dict[str, Any], client: WebClient, services: Services, parsed: Any
) -> None:
    """``/rally tasks``: the first page of the user's open tasks, from the reminder index.

    Redis only (no API call inside the request), so it answers within Slack's 3 seconds.
    """
    namespace = namespace_of(services.settings)
    if namespace is None:
        ack(
            text="Rally isn't configured here yet (RALLY_BASE_URL / RALLY_API_KEY), so there are no tasks to show."
        )
        return
    try:
        cards, total = open_tasks_page(
            services.conn, namespace, team=command["team_id"], user=command["user_id"]
        )
    except redis.RedisError:
        _redis_down_reply(ack, command)
        return
    message = tasks_message(
        cards, offset=0, total=total, now=datetime.now(UTC), app_url=services.settings.rally_app_url
    )
    ack(text=message["text"], blocks=message["blocks"])


def _record_text(kind: str, record_id: str, services: Services) -> str:
    return record_link(kind, record_id, services.settings.rally_app_url)


def _state_call(ack: Any, command: dict[str, Any], action: Callable[[], str]) -> None:
    try:
        text = action()
    except redis.RedisError:
        _redis_down_reply(ack, command)
        return
    ack(text=text)


def _link(
    ack: Any, command: dict[str, Any], client: WebClient, services: Services, parsed: LinkCommand
) -> None:
    team, channel = command["team_id"], command["channel_id"]

    def run() -> str:
        previous = services.state.link_channel(team, channel, parsed.ref.kind, parsed.ref.id)
        log.info(
            "event=channel_linked team=%s channel=%s kind=%s id=%s",
            team,
            channel,
            parsed.ref.kind,
            parsed.ref.id,
        )
        text = f":link: This channel is now linked to {_record_text(parsed.ref.kind, parsed.ref.id, services)}. Activities logged here are associated with it."
        if previous and (previous.kind, previous.id) != (parsed.ref.kind, parsed.ref.id):
            text += f" (It was linked to {_record_text(previous.kind, previous.id, services)}.)"
        return text

    _state_call(ack, command, run)


def _show_link(
    ack: Any,
    command: dict[str, Any],
    client: WebClient,
    services: Services,
    parsed: ShowLinkCommand,
) -> None:
    def run() -> str:
        link = services.state.get_link(command["team_id"], command["channel_id"])
        if link is None:
            return "This channel isn't linked to a Rally record. Link it with `/rally link deal <id or Rally URL>`."
        return f":link: This channel is linked to {_record_text(link.kind, link.id, services)}."

    _state_call(ack, command, run)


def _unlink(
    ack: Any, command: dict[str, Any], client: WebClient, services: Services, parsed: UnlinkCommand
) -> None:
    def run() -> str:
        previous = services.state.unlink_channel(command["team_id"], command["channel_id"])
        if previous is None:
            return "This channel wasn't linked to anything."
        log.info(
            "event=channel_unlinked team=%s channel=%s", command["team_id"], command["channel_id"]
        )
        return f"Unlinked this channel from {_record_text(previous.kind, previous.id, services)}."

    _state_call(ack, command, run)


def _me(
    ack: Any, command: dict[str, Any], client: WebClient, services: Services, parsed: MeCommand
) -> None:
    team, user = command["team_id"], command["user_id"]

    def run() -> str:
        if parsed.owner_id is None:
            owner = services.state.get_owner(team, user)
            if owner is None:
                return "You aren't mapped to a Rally user yet: `/rally me <your Rally owner id>`."
            return f"Activities you log are owned by Rally user `{owner}`."
        services.state.set_owner(team, user, parsed.owner_id)
        return f":bust_in_silhouette: Got it: activities you log will be owned by Rally user `{parsed.owner_id}`."

    _state_call(ack, command, run)


SUBCOMMANDS: dict[type[Command], Callable[..., None]] = {
    HelpCommand: _help,
    InvalidCommand: _invalid,
    OpenModalCommand: _open_modal,
    QuickCreateCommand: _quick_create,
    TasksCommand: list_open_tasks,
    LinkCommand: _link,
    ShowLinkCommand: _show_link,
    UnlinkCommand: _unlink,
    MeCommand: _me,
}
