"""Reading what people type into ``/rally``: subcommands, the quick-create grammar,
durations and record references.

Everything here is a pure function of its arguments (the clock and the user's time
zone are passed in), so the listeners stay thin and the grammar is tested on its own.

Quick-create grammar (SPEC §4)::

    /rally task Send proposal to Acme due:"tomorrow 5pm" !high

Words that are not tokens form the subject. Tokens:

``due:<when>`` / ``at:<when>``
    ISO 8601 (``2025-07-15``, ``2025-07-15T14:00``, ``2025-07-15T14:00+02:00``) or
    natural language, one word (``due:tomorrow``) or quoted (``due:"friday 5pm"``;
    the curly quotes Slack clients insert work too). Read in the user's time zone
    relative to *now*, preferring the future, and stored in UTC. A day without a
    time of day (``due:friday``, ``due:2025-07-15``, ``at:tomorrow``) means
    17:00 local for ``due:`` (the end of the working day, when a reminder still
    helps) and 09:00 local for ``at:`` (the start of it). A zone written in the
    text (``"5pm EST"``, ``…T14:00Z``) wins over the user's.
``for:<duration>``
    ``30m``, ``1h30m``, ``45s``, ``2h``, ``1.5h``, ``1:30``; a bare number is
    minutes (``for:90``), as in the modals.
``!low`` ``!normal`` ``!high`` ``!urgent``
    task priority.
``dir:in|out``
    call direction (``inbound``/``outbound``, ``incoming``/``outgoing`` too).
``outcome:<value>``
    call outcome, one word or quoted; lower-cased with spaces and dashes as
    underscores (``no-answer`` → ``no_answer``).
``done``
    status completed. Only as a trailing word (nothing but tokens after it), so
    "Get the deal done by Friday" keeps its words.

Token keys are case-insensitive. A ``word:value`` with any other key (``https://…``,
``Re:pricing``) is an ordinary subject word. A token that does not apply to the
activity type is an error that names it; nothing is silently dropped.
"""

from bot.parsing.commands import (
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
    ShowLinkCommand,
    TasksCommand,
    UnlinkCommand,
    parse_command,
)
from bot.parsing.common import USAGE, ParseError, QuickCreateError, RecordRefError
from bot.parsing.dates import AT_DEFAULT_TIME, DUE_DEFAULT_TIME, parse_when, resolve_tz, warm_up
from bot.parsing.durations import MAX_DURATION, MAX_MINUTES, parse_duration, parse_minutes
from bot.parsing.quick_create import QuickCreate, parse_quick_create
from bot.parsing.records import RecordKind, RecordRef, parse_record_ref
from bot.parsing.slack_text import unescape_slack

__all__ = [
    "AT_DEFAULT_TIME",
    "DUE_DEFAULT_TIME",
    "MAX_DURATION",
    "MAX_MINUTES",
    "USAGE",
    "Command",
    "ConnectCommand",
    "DigestCommand",
    "DisconnectCommand",
    "HelpCommand",
    "InvalidCommand",
    "LinkCommand",
    "MeCommand",
    "NameCommand",
    "OpenModalCommand",
    "ParseError",
    "QuickCreate",
    "QuickCreateCommand",
    "QuickCreateError",
    "RecordKind",
    "RecordRef",
    "RecordRefError",
    "ShowLinkCommand",
    "TasksCommand",
    "UnlinkCommand",
    "parse_command",
    "parse_duration",
    "parse_minutes",
    "parse_quick_create",
    "parse_record_ref",
    "parse_when",
    "resolve_tz",
    "unescape_slack",
    "warm_up",
]
