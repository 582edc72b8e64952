"""The fake workspace itself: its ids, its people and its channels.

Everything else in the fake (messages, views, the Web API) refers to people and
channels by id; this module is where those ids come from and where "can the bot post
here?" is decided, so a test that changes who is where (:meth:`Workspace.remove_bot_from`)
changes it for every Web API method at once.

Like the other parts of :class:`~devstack.fake_slack.server.FakeSlack`, a
:class:`Workspace` does no locking of its own: the fake holds its one lock around every
call.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from devstack.fake_slack.failures import SlackError

TEAM_ID = "T0RALLY001"
TEAM_NAME = "Rally Dev"
TEAM_DOMAIN = "rallydev"
API_APP_ID = "A0RALLYAPP"
BOT_USER_ID = "U0RALLYBOT"
BOT_ID = "B0RALLYBOT"

# Slack's long names for the zones we use; tz_label in users.info is one of these.
_TZ_LABELS = {
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time"),
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Standard Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "Asia/Kolkata": ("India Standard Time", "India Standard Time"),
    "Australia/Sydney": ("Australian Eastern Standard Time", "Australian Eastern Daylight Time"),
}


@dataclass
class Person:
    """A member of the fake workspace."""

    id: str
    name: str
    real_name: str
    tz: str
    title: str = ""
    is_bot: bool = False
    is_admin: bool = False

    def as_slack_user(self, now: datetime | None = None, team_id: str = TEAM_ID) -> dict[str, Any]:
        """The ``user`` object of ``users.info`` (a member of ``team_id``), with the time
        zone as of ``now``."""
        moment = (now or datetime.now(UTC)).astimezone(ZoneInfo(self.tz))
        offset = moment.utcoffset()
        dst = bool(moment.dst())
        labels = _TZ_LABELS.get(self.tz, (self.tz, self.tz))
        first, _, last = self.real_name.partition(" ")
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": labels[1] if dst else labels[0],
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": {
                "title": self.title,
                "real_name": self.real_name,
                "real_name_normalized": self.real_name,
                "display_name": self.name,
                "display_name_normalized": self.name,
                "first_name": first,
                "last_name": last,
                "email": f"{self.name}@example.com",
                "team": team_id,
            },
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }


@dataclass
class Channel:
    """A conversation of the fake workspace (public or private channel, or a DM)."""

    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None
    members: set[str] = field(default_factory=set)

    def as_slack_channel(self, team_id: str = TEAM_ID) -> dict[str, Any]:
        """The ``channel`` object of ``conversations.info`` (a channel of ``team_id``)."""
        if self.is_im:
            return {
                "id": self.id,
                "created": 1700000000,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_member": BOT_USER_ID in self.members,
            "created": 1700000000,
            "creator": "U0ALICE",
            "context_team_id": team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(self.members),
        }


def default_people() -> list[Person]:
    """The people of the default workspace: a sales team spread over time zones."""
    return [
        Person("U0ALICE", "alice", "Alice Moreno", "America/Los_Angeles", "Account Executive"),
        Person("U0BOB", "bob", "Bob Tanaka", "Asia/Tokyo", "Sales Engineer"),
        Person("U0CAROL", "carol", "Carol Hughes", "Europe/London", "Sales Manager"),
        Person("U0DAVE", "dave", "Dave Okafor", "America/New_York", "SDR"),
        Person(BOT_USER_ID, "rally", "Rally", "America/Los_Angeles", is_bot=True),
    ]


def default_channels(people: Iterable[Person]) -> list[Channel]:
    """The channels of the default workspace; everyone (and the bot) is in each."""
    everyone = {p.id for p in people}
    return [
        Channel("C0SALES", "sales", members=set(everyone)),
        Channel("C0ACME", "deal-acme", members=set(everyone)),
        Channel("C0GENERAL", "general", members=set(everyone)),
    ]


class Workspace:
    """Who is in the workspace and which channels there are, DMs included.

    Args:
        people: the members (default: :func:`default_people`), restored on :meth:`reset`.
        channels: the channels (default: :func:`default_channels`), restored on :meth:`reset`.
        team_id, team_name, team_domain: which workspace this is (default: the dev one).
    """

    def __init__(
        self,
        people: list[Person] | None = None,
        channels: list[Channel] | None = None,
        *,
        team_id: str = TEAM_ID,
        team_name: str = TEAM_NAME,
        team_domain: str = TEAM_DOMAIN,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self._initial_people = people
        self._initial_channels = channels
        self.reset()

    def reset(self) -> None:
        """Back to the people and channels the workspace started with (DMs forgotten)."""
        people = copy.deepcopy(self._initial_people) or default_people()
        channels = copy.deepcopy(self._initial_channels) or default_channels(people)
        self.people: dict[str, Person] = {p.id: p for p in people}
        self.channels: dict[str, Channel] = {c.id: c for c in channels}

    @staticmethod
    def dm_channel_id(user: str) -> str:
        """The id of the bot's DM with ``user`` (``U0BOB`` → ``D0BOB``)."""
        return "D" + user[1:] if user.startswith("U") else "D" + user

    def channel(self, channel_id: str | None) -> Channel:
        """The channel a Web API call names; a user id means the DM with that user.

        Raises:
            SlackError: ``channel_not_found``.
        """
        if not channel_id:
            raise SlackError("channel_not_found")
        if channel_id in self.channels:
            return self.channels[channel_id]
        # Posting to a user id posts into the DM with that user, as Slack does.
        if channel_id.startswith(("U", "W")) and channel_id in self.people:
            return self.open_dm(channel_id)
        raise SlackError("channel_not_found")

    def open_dm(self, user: str) -> Channel:
        """The bot's DM with ``user``, opened if it was not yet."""
        dm_id = self.dm_channel_id(user)
        if dm_id not in self.channels:
            self.channels[dm_id] = Channel(
                dm_id, user, is_im=True, im_user=user, members={user, BOT_USER_ID}
            )
        return self.channels[dm_id]

    @staticmethod
    def bot_can_post(channel: Channel) -> None:
        """Refuse as Slack does when the bot is not a member of ``channel``.

        Raises:
            SlackError: ``not_in_channel``, or ``channel_not_found`` for a private channel
                (the bot cannot even see it).
        """
        if BOT_USER_ID not in channel.members:
            raise SlackError("channel_not_found" if channel.is_private else "not_in_channel")

    def remove_bot_from(self, channel: str) -> None:
        """Take the bot out of ``channel``."""
        self.channels[channel].members.discard(BOT_USER_ID)

    def add_bot_to(self, channel: str) -> None:
        """Put the bot (back) into ``channel``."""
        self.channels[channel].members.add(BOT_USER_ID)
