"""What a fresh ``rally-slack dev`` starts with: a few records and activities to look at.

The Activities API has no contacts, companies or deals of its own, only their ids, so
the ids below stand for a small pipeline (Acme's expansion deal, Globex's renewal) that
the activities refer to. ``#deal-acme`` is linked to the Acme deal when the stack starts,
so its tasks are reminded there; every record is named for the workspace (``/rally link``
with a name, ``/rally name``), so the menus and messages show names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api_client import CreateActivityRequest, RallyClient

log = logging.getLogger("dev.seed")


@dataclass(frozen=True)
class Record:
    """A CRM record the seeded activities refer to."""

    kind: str  # "deal" | "company" | "contact"
    id: str
    name: str


ACME_DEAL = Record("deal", "5a1c0de0-ac3e-4d3a-9e55-000000000001", "Acme expansion")
ACME_COMPANY = Record("company", "5a1c0de0-ac3e-4c0a-9e55-000000000002", "Acme Corp")
ACME_CONTACT = Record("contact", "5a1c0de0-ac3e-4c7a-9e55-000000000003", "Jane Doe (VP Ops, Acme)")
GLOBEX_DEAL = Record("deal", "6b2d1ef1-9b0e-4e4b-8f66-000000000004", "Globex — renewal 2027")
GLOBEX_CONTACT = Record(
    "contact", "6b2d1ef1-9b0e-4e8b-8f66-000000000005", "Hank Scorpio (CEO, Globex)"
)

# (channel, record) bindings made through the bot's own /rally link when the stack starts
# (with the record's name: /rally link deal <id> "name").
LINKS = (("C0ACME", ACME_DEAL),)
# Records named through /rally name when the stack starts, so the forms' menus and every
# message show names, not ids.
NAMED = (ACME_COMPANY, ACME_CONTACT, GLOBEX_DEAL, GLOBEX_CONTACT)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_activities(now: datetime | None = None) -> list[CreateActivityRequest]:
    """A realistic handful: a discovery call, notes, a meeting, open and done tasks."""
    now = now or datetime.now(UTC)
    acme = {"dealId": ACME_DEAL.id, "companyId": ACME_COMPANY.id, "contactId": ACME_CONTACT.id}
    globex = {"dealId": GLOBEX_DEAL.id, "contactId": GLOBEX_CONTACT.id}
    raw = [
        {
            "activityType": "call",
            "subject": "Discovery call with Jane",
            "body": "Budget approved for Q3; wants SSO and audit logs.",
            "callDirection": "outbound",
            "callOutcome": "connected",
            "callDurationSeconds": 1500,
            "status": "completed",
            **acme,
        },
        {
            "activityType": "note",
            "subject": "Acme security review is the long pole",
            "body": "Their infosec team needs our SOC 2 report before legal signs.",
            **acme,
        },
        {
            "activityType": "meeting",
            "subject": "Acme technical deep-dive",
            "scheduledAt": _iso(now + timedelta(days=2, hours=1)),
            "durationMinutes": 60,
            "location": "Zoom",
            "meetingUrl": "https://example.com/meet/acme-deep-dive",
            **acme,
        },
        {
            "activityType": "task",
            "subject": "Send Acme the revised proposal",
            # Just past the default 15-minute lead: reminded in #deal-acme a couple of
            # minutes after a fresh `rally-slack dev` starts.
            "dueDate": _iso(now + timedelta(minutes=17)),
            "priority": "high",
            **acme,
        },
        {
            "activityType": "task",
            "subject": "Share SOC 2 report with Acme infosec",
            "dueDate": _iso(now + timedelta(days=1)),
            "priority": "normal",
            **acme,
        },
        {
            "activityType": "call",
            "subject": "Renewal check-in with Hank",
            "callDirection": "inbound",
            "callOutcome": "left voicemail",
            "callDurationSeconds": 60,
            "status": "completed",
            **globex,
        },
        {
            "activityType": "task",
            "subject": "Prepare Globex renewal quote",
            "dueDate": _iso(now + timedelta(days=3)),
            "priority": "normal",
            **globex,
        },
    ]
    return [CreateActivityRequest.model_validate(item) for item in raw]


def seed_sandbox(base_url: str, api_key: str, *, now: datetime | None = None) -> int:
    """Create the seed activities unless the tenant already has some; how many were made."""
    with RallyClient(base_url, api_key, max_retries=2) as client:
        if client.list_activities(limit=1):
            return 0
        requests = seed_activities(now)
        result = client.bulk_create_activities(requests)
    created = len(result.created_ids)
    log.info("event=sandbox_seeded created=%d", created)
    return created
