"""``/rally``: help, modals, quick-create, tasks, link/unlink, me (SPEC §4).

:func:`handle_rally_command` reads who, where and what from Bolt's context into one
:class:`Call` and hands it, with the parsed command, to that subcommand's function in
``SUBCOMMANDS``. Every answer is the acknowledgement itself (an ephemeral message), so it
reaches the person within Slack's 3 seconds; nothing here calls the Activities API.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.envelope import Malformed
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
from workers.slack import tell_user

log = logging.getLogger(__name__)

DATE_TOKEN_RE = re.compile(r"(?i)(?:^|\s)(?:due|at):")
REDIS_DOWN = (
    ":warning: Rally couldn't take this right now (its queue is unreachable). "
    "Nothing was logged; here is what you typed, to send again in a moment:"
)


@dataclass(frozen=True)
class Call:
    """One ``/rally`` invocation: who typed what, where, and how to answer."""

    ack: Ack
    client: WebClient
    services: Services
    team: str
    user: str
    channel: str
    text: str
    command: dict[str, Any]

    @property
    def typed(self) -> str:
        return f"{self.command.get('command') or ids.RALLY_COMMAND} {self.text}".strip()

    def say(self, text: str, **extra: Any) -> None:
        """Answer with an ephemeral message (the acknowledgement itself)."""
        self.ack(text=text, **extra)

    def redis_down(self) -> None:
        self.say(f"{REDIS_DOWN}\n```{escape(self.typed)}```")

    def record(self, kind: str, record_id: str) -> str:
        return record_link(kind, record_id, self.services.settings.rally_app_url)


def handle_rally_command(
    ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Dispatch ``/rally <text>`` to its subcommand."""
    if not (context.team_id and context.user_id and context.channel_id):
        raise Malformed("no team, user or channel")
    call = Call(
        ack=ack,
        client=client,
        services=services_of(context),
        team=context.team_id,
        user=context.user_id,
        channel=context.channel_id,
        text=str(command.get("text") or ""),
        command=command,
    )
    parsed = parse_command(call.text)
    SUBCOMMANDS.get(type(parsed), _help)(call, parsed)


def _help(call: Call, parsed: Command) -> None:
    notice = None
    if isinstance(parsed, HelpCommand) and parsed.unknown:
        notice = f"I don't know `{escape(parsed.unknown)}`. Here is what `/rally` does:"
    call.ack(**build_help(notice=notice))


def _invalid(call: Call, parsed: InvalidCommand) -> None:
    lines = "\n".join(f"• {escape(m)}" for m in parsed.messages)
    call.say(f":warning: {lines}\nUsage: `{escape(parsed.usage)}`")


def link_prefill(services: Services, team: str | None, channel: str | None) -> dict[str, Any]:
    """Modal values for the channel's bound record ({} when unbound or Redis is down)."""
    if not team or not channel:
        return {}
    try:
        link = services.state.get_link(team, channel)
    except redis.RedisError:
        return {}
    return {link.kind: link.id} if link else {}


def _open_modal(call: Call, parsed: OpenModalCommand) -> None:
    call.ack()
    kind = parsed.activity_type.value
    values = default_values(kind) | link_prefill(call.services, call.team, call.channel)
    metadata = {"channel": call.channel, "response_url": call.command.get("response_url")}
    try:
        call.client.views_open(
            trigger_id=call.command["trigger_id"],
            view=build_log_modal(kind, values=values, metadata=metadata),
        )
    except SlackApiError as exc:
        # Usually an expired trigger (Slack was slow to deliver): say so instead of nothing.
        error = exc.response.get("error")
        log.warning("event=views_open_failed user=%s error=%s", call.user, error)
        tell_user(
            call.client,
            call.command,
            f"I couldn't open the {kind} form (Slack said `{error}`). "
            f"Please try `/rally {kind}` again.",
        )


def _quick_create(call: Call, parsed: QuickCreateCommand) -> None:
    services = call.services
    # Only dates need the user's zone: skip the users.info round trip otherwise.
    tz, tz_known = (
        services.user_tz(call.team, call.user)
        if DATE_TOKEN_RE.search(parsed.text)
        else ("UTC", True)
    )
    kind = parsed.activity_type.value
    try:
        quick = parsed.parse(tz=tz, now=datetime.now(UTC))
    except QuickCreateError as exc:
        lines = "\n".join(f"• {escape(m)}" for m in exc.messages)
        call.say(f":warning: I couldn't read that {kind}:\n{lines}")
        return
    wire = quick.request_body()
    try:
        link = services.state.get_link(call.team, call.channel)
        owner = services.state.get_owner(call.team, call.user)
    except redis.RedisError:
        call.redis_down()
        return
    if link is not None:
        wire[f"{link.kind}Id"] = link.id
    if owner:
        wire["ownerId"] = owner
    try:
        request = validate_wire(wire)
    except FormErrors as exc:
        call.say(":warning: " + " ".join(escape(m) for m in exc.errors.values()))
        return
    submission_id = submission_id_for_command(
        call.team, call.user, call.text, str(call.command.get("trigger_id") or "")
    )
    try:
        services.submit(
            submission_id=submission_id,
            activity_type=kind,
            request=request,
            values=values_from_request(request),
            team=call.team,
            user=call.user,
            channel=call.channel,
            response_url=call.command.get("response_url"),
            source="command",
        )
    except QueueUnavailable:
        call.redis_down()
        return
    note = "" if tz_known else " (times read in UTC: I couldn't get your Slack time zone)"
    call.say(f":hourglass_flowing_sand: Logging {kind} *{escape(quick.subject)}*…{note}")


def list_open_tasks(call: Call, parsed: TasksCommand) -> None:
    """``/rally tasks``: the first page of the user's open tasks, from the reminder index.

    Redis only (no API call inside the request), so it answers within Slack's 3 seconds.
    """
    services = call.services
    namespace = namespace_of(services.settings)
    if namespace is None:
        call.say(
            "Rally isn't configured here yet (RALLY_BASE_URL / RALLY_API_KEY), "
            "so there are no tasks to show."
        )
        return
    try:
        cards, total = open_tasks_page(services.conn, namespace, team=call.team, user=call.user)
    except redis.RedisError:
        call.redis_down()
        return
    message = tasks_message(
        cards, offset=0, total=total, now=datetime.now(UTC), app_url=services.settings.rally_app_url
    )
    call.say(message["text"], blocks=message["blocks"])


def _answer_from_state(call: Call, action: Callable[[], str]) -> None:
    try:
        text = action()
    except redis.RedisError:
        call.redis_down()
        return
    call.say(text)


def _link(call: Call, parsed: LinkCommand) -> None:
    ref = parsed.ref

    def run() -> str:
        previous = call.services.state.link_channel(call.team, call.channel, ref.kind, ref.id)
        log.info(
            "event=channel_linked team=%s channel=%s user=%s kind=%s id=%s",
            call.team,
            call.channel,
            call.user,
            ref.kind,
            ref.id,
        )
        text = (
            f":link: This channel is now linked to {call.record(ref.kind, ref.id)}. "
            "Activities logged here are associated with it."
        )
        if previous and (previous.kind, previous.id) != (ref.kind, ref.id):
            text += f" (It was linked to {call.record(previous.kind, previous.id)}.)"
        return text

    _answer_from_state(call, run)


def _show_link(call: Call, parsed: ShowLinkCommand) -> None:
    def run() -> str:
        link = call.services.state.get_link(call.team, call.channel)
        if link is None:
            return (
                "This channel isn't linked to a Rally record. "
                "Link it with `/rally link deal <id or Rally URL>`."
            )
        return f":link: This channel is linked to {call.record(link.kind, link.id)}."

    _answer_from_state(call, run)


def _unlink(call: Call, parsed: UnlinkCommand) -> None:
    def run() -> str:
        previous = call.services.state.unlink_channel(call.team, call.channel)
        if previous is None:
            return "This channel wasn't linked to anything."
        log.info(
            "event=channel_unlinked team=%s channel=%s user=%s", call.team, call.channel, call.user
        )
        return f"Unlinked this channel from {call.record(previous.kind, previous.id)}."

    _answer_from_state(call, run)


def _me(call: Call, parsed: MeCommand) -> None:
    state = call.services.state

    def run() -> str:
        if parsed.owner_id is None:
            owner = state.get_owner(call.team, call.user)
            if owner is None:
                return "You aren't mapped to a Rally user yet: `/rally me <your Rally owner id>`."
            return f"Activities you log are owned by Rally user `{owner}`."
        state.set_owner(call.team, call.user, parsed.owner_id)
        return (
            ":bust_in_silhouette: Got it: activities you log will be owned by "
            f"Rally user `{parsed.owner_id}`."
        )

    _answer_from_state(call, run)


SUBCOMMANDS: dict[type[Command], Callable[[Call, Any], None]] = {
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
