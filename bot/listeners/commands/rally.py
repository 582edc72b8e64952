"""``/rally``: help, modals, quick-create, tasks, link/unlink, me, connect, digest (SPEC §4).

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
from sqlalchemy.exc import SQLAlchemyError

from bot.envelope import Malformed
from bot.forms import FormErrors, validate_wire
from bot.parsing import (
    Command,
    ConnectCommand,
    DigestCommand,
    DisconnectCommand,
    HelpCommand,
    InvalidCommand,
    LinkCommand,
    MeCommand,
    NameCommand,
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
from slack_ui.digests import digest_setting_text
from slack_ui.help import build_help
from slack_ui.messages import escape, slack_time
from slack_ui.modals import (
    build_connect_personal,
    build_log_modal,
    default_values,
    values_from_request,
)
from slack_ui.tasks import record_link, tasks_message
from workers.digests import first_taken_day, next_post, parse_at
from workers.open_tasks import namespace_of, open_tasks_page
from workers.records import form_names, index_name, names_for, record_pairs
from workers.slack import tell_user
from workers.workspace import connection_state

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
        """The record as the workspace knows it: its name, else its id."""
        try:
            names = self.services.store.record_names(self.team, [(kind, record_id)])
        except SQLAlchemyError:
            names = {}
        return record_link(kind, record_id, self.services.settings.rally_app_url, names)


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
    if not connection_state(call.services.settings, call.team).connected:
        _not_connected(call)
        return
    SUBCOMMANDS.get(type(parsed), _help)(call, parsed)


def _not_connected(call: Call) -> None:
    """Every ``/rally`` in a workspace with no Rally connection: how to connect. Nothing
    is logged, so nothing typed is lost."""
    state = connection_state(call.services.settings, call.team)
    if state.status == "checking":
        call.say(
            ":hourglass_flowing_sand: Rally is being connected for this workspace; try again in a moment."
        )
        return
    how = (
        "open *Rally* in your sidebar, go to its *Home* tab and press *Connect Rally* "
        "(or have an operator run `rally-slack connect`)"
        if call.services.is_admin(call.client, call.team, call.user)
        else "ask a workspace admin to connect it from the app's *Home* tab"
    )
    failed = " The last try to connect failed." if state.status == "failed" else ""
    call.say(
        f":electric_plug: This workspace isn't connected to Rally yet, so nothing can be "
        f"logged.{failed} To connect it, {how}."
    )


def _help(call: Call, parsed: Command) -> None:
    notice = None
    if isinstance(parsed, HelpCommand) and parsed.unknown:
        notice = f"I don't know `{escape(parsed.unknown)}`. Here is what `/rally` does:"
    call.ack(**build_help(notice=notice).to_dict())


def _invalid(call: Call, parsed: InvalidCommand) -> None:
    lines = "\n".join(f"• {escape(m)}" for m in parsed.messages)
    call.say(f":warning: {lines}\nUsage: `{escape(parsed.usage)}`")


def link_prefill(services: Services, team: str | None, channel: str | None) -> dict[str, Any]:
    """Modal values for the channel's bound record ({} when unbound or Redis is down)."""
    if not team or not channel:
        return {}
    try:
        link = services.store.link(team, channel)
    except SQLAlchemyError:
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
            view=build_log_modal(
                kind,
                values=values,
                metadata=metadata,
                names=form_names(call.services.store, call.team, values),
            ).to_dict(),
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
        services.user_tz(call.client, call.team, call.user)
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
        link = services.store.link(call.team, call.channel)
        owner = services.store.owner(call.team, call.user)
    except SQLAlchemyError:
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
    namespace = namespace_of(services.settings, call.team)
    if namespace is None:
        call.say(
            "Rally isn't configured here yet (RALLY_BASE_URL / RALLY_API_KEY), "
            "so there are no tasks to show."
        )
        return
    try:
        cards, total = open_tasks_page(
            services.conn, services.store, namespace, team=call.team, user=call.user
        )
    except redis.RedisError:
        call.redis_down()
        return
    message = tasks_message(
        cards,
        offset=0,
        total=total,
        now=datetime.now(UTC),
        app_url=services.settings.rally_app_url,
        names=names_for(services.store, call.team, record_pairs(*cards)),
    )
    call.say(**message.to_dict())


def _answer_from_state(call: Call, action: Callable[[], str]) -> None:
    try:
        text = action()
    except (redis.RedisError, SQLAlchemyError):
        call.redis_down()
        return
    call.say(text)


def _announce(call: Call, text: str) -> None:
    """Answer in the channel for everyone to see (a link change concerns them all)."""
    call.ack(text=text, response_type="in_channel")


def _save_name(call: Call, kind: str, record_id: str, name: str) -> str | None:
    """Name a record for the workspace (store, audit, the type-ahead's index); returns the
    name it had. Raises SQLAlchemyError or RedisError when a store is down."""
    store = call.services.store
    previous = store.name_record(call.team, kind, record_id, name, by=call.user)
    if previous != name:
        store.audit(
            call.team,
            call.user,
            "named",
            surface="command",
            channel=call.channel,
            kind=kind,
            record=record_id,
            name=name,
            previous=previous,
        )
    index_name(call.services.conn, call.team, kind, record_id, name, previous)
    log.info(
        "event=record_named team=%s user=%s kind=%s id=%s", call.team, call.user, kind, record_id
    )
    return previous


def _name(call: Call, parsed: NameCommand) -> None:
    # Who may: whoever may link (SPEC §7): a member of the channel it is typed in (Slack
    # runs a slash command only where the person can post) or an admin; a name is the
    # workspace's own label and changes nothing in Rally.
    ref = parsed.ref
    try:
        previous = _save_name(call, ref.kind, ref.id, parsed.name)
    except (redis.RedisError, SQLAlchemyError):
        call.redis_down()
        return
    shown = call.record(ref.kind, ref.id)
    was = f" (it was *{escape(previous)}*)" if previous and previous != parsed.name else ""
    _announce(call, f":label: <@{call.user}> named {ref.kind} `{ref.id}` {shown}{was}.")


def _link(call: Call, parsed: LinkCommand) -> None:
    # Who may: the channel's members (Slack runs a slash command only where the person
    # can post, so running it here shows they are one) and admins (SPEC §6).
    ref = parsed.ref
    store = call.services.store
    if parsed.name is not None:
        try:
            _save_name(call, ref.kind, ref.id, parsed.name)
        except (redis.RedisError, SQLAlchemyError):
            call.redis_down()
            return
    try:
        previous = store.link_channel(call.team, call.channel, ref.kind, ref.id, by=call.user)
        store.audit(
            call.team,
            call.user,
            "linked",
            surface="command",
            channel=call.channel,
            kind=ref.kind,
            record=ref.id,
        )
    except SQLAlchemyError:
        call.redis_down()
        return
    log.info(
        "event=channel_linked team=%s channel=%s user=%s kind=%s id=%s",
        call.team,
        call.channel,
        call.user,
        ref.kind,
        ref.id,
    )
    text = (
        f":link: <@{call.user}> linked this channel to {call.record(ref.kind, ref.id)}. "
        "Activities logged here are associated with it, and its due tasks are reminded here."
    )
    if previous and (previous.kind, previous.id) != (ref.kind, ref.id):
        text += f" (It was linked to {call.record(previous.kind, previous.id)}.)"
    _announce(call, text)


def _show_link(call: Call, parsed: ShowLinkCommand) -> None:
    def run() -> str:
        link = call.services.store.link(call.team, call.channel)
        if link is None:
            return (
                "This channel isn't linked to a Rally record. "
                "Link it with `/rally link deal <id or Rally URL>`."
            )
        return f":link: This channel is linked to {call.record(link.kind, link.id)}."

    _answer_from_state(call, run)


def _unlink(call: Call, parsed: UnlinkCommand) -> None:
    store = call.services.store
    try:
        previous = store.unlink_channel(call.team, call.channel)
        if previous is not None:
            store.audit(
                call.team,
                call.user,
                "unlinked",
                surface="command",
                channel=call.channel,
                kind=previous.kind,
                record=previous.id,
            )
    except SQLAlchemyError:
        call.redis_down()
        return
    if previous is None:
        call.say("This channel wasn't linked to anything.")
        return
    log.info(
        "event=channel_unlinked team=%s channel=%s user=%s", call.team, call.channel, call.user
    )
    _announce(
        call,
        f":link: <@{call.user}> unlinked this channel from "
        f"{call.record(previous.kind, previous.id)}.",
    )


def _me(call: Call, parsed: MeCommand) -> None:
    store = call.services.store
    if parsed.owner_id is None:
        _answer_from_state(call, lambda: _whoami(call))
        return
    allowed = store.owner_self_service(call.team) or call.services.is_admin(
        call.client, call.team, call.user
    )
    if not allowed:
        log.warning("event=owner_mapping_refused team=%s user=%s", call.team, call.user)
        call.say(
            ":no_entry: Only a workspace admin can choose which Rally owner you log as "
            "(an admin can let everyone choose from the app's Home tab). "
            "To log as yourself, connect your own Rally key: `/rally connect`."
        )
        return

    def run() -> str:
        store.set_owner(call.team, call.user, parsed.owner_id or "", by=call.user)
        store.audit(call.team, call.user, "mapped_owner", surface="command", owner=parsed.owner_id)
        return (
            ":bust_in_silhouette: Got it: activities you log will be owned by "
            f"Rally user `{parsed.owner_id}`."
        )

    _answer_from_state(call, run)


def _whoami(call: Call) -> str:
    store = call.services.store
    key = (
        store.personal_key(call.team, call.user)
        if call.services.settings.encryption_keys()
        else None
    )
    owner = store.owner(call.team, call.user)
    if key is not None and key.status == "ok":
        return f"You log with your own Rally key ({key.key_hint}), so Rally attributes it to you."
    if owner is None:
        return "You aren't mapped to a Rally user yet: `/rally connect` to log with your own key."
    return f"Activities you log are owned by Rally user `{owner}`."


def _connect(call: Call, parsed: ConnectCommand) -> None:
    call.ack()
    if not call.services.settings.encryption_keys():
        tell_user(call.client, call.command, NO_KEY_RING)
        return
    call.client.views_open(
        trigger_id=call.command["trigger_id"],
        view=build_connect_personal(metadata={"channel": call.channel}).to_dict(),
    )


def _disconnect(call: Call, parsed: DisconnectCommand) -> None:
    store = call.services.store
    try:
        removed = call.services.settings.encryption_keys() and store.delete_personal_key(
            call.team, call.user
        )
        if removed:
            store.audit(call.team, call.user, "disconnected_key", surface="command")
    except SQLAlchemyError:
        call.redis_down()
        return
    if not removed:
        call.say("You hadn't connected a Rally key of your own; you log with the workspace's.")
        return
    call.say(
        ":unlock: Your Rally key is gone from here. What you log from now on goes out with "
        "the workspace's key."
    )


def _digest(call: Call, parsed: DigestCommand) -> None:
    """``/rally digest [on [HH:MM] | off]``: the channel's daily digest (SPEC §7).

    Who may: the channel's members, as for ``/rally link`` (the digest shows the linked
    record's tasks, which the channel sees already). A change is announced in the channel.
    """
    store = call.services.store
    if parsed.on is None:
        _answer_from_state(call, lambda: _digest_shown(call))
        return
    if not parsed.on:
        try:
            removed = store.delete_digest(call.team, call.channel)
            if removed is not None:
                store.audit(
                    call.team, call.user, "digest_off", surface="command", channel=call.channel
                )
        except SQLAlchemyError:
            call.redis_down()
            return
        if removed is None:
            call.say("This channel had no daily digest.")
            return
        _announce(call, f":sunrise: <@{call.user}> turned off this channel's daily digest.")
        return
    try:
        link = store.link(call.team, call.channel)
    except SQLAlchemyError:
        call.redis_down()
        return
    if link is None:
        call.say(
            "A digest lists the tasks of the record this channel is linked to, and this one "
            "isn't linked yet: `/rally link deal <id or Rally URL>` first, then "
            "`/rally digest on`."
        )
        return
    tz, known = call.services.user_tz(call.client, call.team, call.user)
    now = datetime.now(UTC)
    at = parsed.at.strftime("%H:%M")
    taken = first_taken_day(parsed.at, tz, now)
    try:
        store.set_digest(call.team, call.channel, at=at, tz=tz, by=call.user, last_day=taken)
        store.audit(
            call.team, call.user, "digest_on", surface="command", channel=call.channel, at=at, tz=tz
        )
    except SQLAlchemyError:
        call.redis_down()
        return
    first = int(next_post(parsed.at, tz, now, taken).timestamp())
    unknown = "" if known else " (I couldn't get your Slack time zone, so it is UTC)"
    _announce(
        call,
        f":sunrise: <@{call.user}> turned on a daily digest here: each working day at "
        f"{digest_setting_text(at, tz)}{unknown}, the overdue and due-today tasks of "
        f"{call.record(link.kind, link.id)}. The first comes {slack_time(first)}.",
    )


def _digest_shown(call: Call) -> str:
    store = call.services.store
    digest = store.digest(call.team, call.channel)
    if digest is None:
        return (
            "This channel has no daily digest. `/rally digest on` posts the linked record's "
            "overdue and due-today tasks here each working day at 09:00 (or `on 08:30`)."
        )
    first = int(
        next_post(parse_at(digest.at), digest.tz, datetime.now(UTC), digest.last_day).timestamp()
    )
    text = (
        f":sunrise: This channel's daily digest comes each working day at "
        f"{digest_setting_text(digest.at, digest.tz)}"
        + (f", turned on by <@{digest.enabled_by}>" if digest.enabled_by else "")
        + f". Next: {slack_time(first)}. `/rally digest off` stops it."
    )
    if store.link(call.team, call.channel) is None:
        text += " (The channel isn't linked to a record now, so nothing is posted.)"
    return text


NO_KEY_RING = (
    ":warning: This app can't keep a key safely yet (the operator hasn't set "
    "RALLY_SLACK_ENCRYPTION_KEYS), so nothing was stored."
)


SUBCOMMANDS: dict[type[Command], Callable[[Call, Any], None]] = {
    HelpCommand: _help,
    InvalidCommand: _invalid,
    OpenModalCommand: _open_modal,
    QuickCreateCommand: _quick_create,
    TasksCommand: list_open_tasks,
    LinkCommand: _link,
    NameCommand: _name,
    ShowLinkCommand: _show_link,
    UnlinkCommand: _unlink,
    MeCommand: _me,
    ConnectCommand: _connect,
    DisconnectCommand: _disconnect,
    DigestCommand: _digest,
}
