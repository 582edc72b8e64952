"""The request and response examples of the seed document (activities-api.txt), verbatim."""

from __future__ import annotations

from typing import Any

LOG_A_CALL: dict[str, Any] = {
    "activityType": "call",
    "subject": "Discovery call with Sarah Chen",
    "body": "Discussed enterprise licensing needs and timeline",
    "contactId": "d290f1ee-6c54-4b01-90e6-d701748f0851",
    "dealId": "c8f9a0b1-2d3e-4f56-7890-abcdef123456",
    "callDirection": "outbound",
    "callOutcome": "connected",
    "callDurationSeconds": 1800,
    "status": "completed",
}

CREATE_A_TASK: dict[str, Any] = {
    "activityType": "task",
    "subject": "Send proposal to Acme Corp",
    "body": "Include enterprise pricing and implementation timeline",
    "contactId": "d290f1ee-6c54-4b01-90e6-d701748f0851",
    "dealId": "c8f9a0b1-2d3e-4f56-7890-abcdef123456",
    "dueDate": "2025-07-15T17:00:00Z",
    "priority": "high",
    "status": "pending",
}

SCHEDULE_A_MEETING: dict[str, Any] = {
    "activityType": "meeting",
    "subject": "Quarterly business review",
    "body": "Review Q2 results and discuss expansion plan",
    "contactId": "d290f1ee-6c54-4b01-90e6-d701748f0851",
    "companyId": "b5c7e1a2-3d4f-5678-9abc-def012345678",
    "scheduledAt": "2025-07-20T14:00:00Z",
    "durationMinutes": 60,
    "location": "Conference Room B",
    "meetingUrl": "https://meet.example.com/abc-def-ghi",
}

CALL_ACTIVITY: dict[str, Any] = {
    "id": "a7b8c9d0-1e2f-3456-789a-bcdef0123456",
    "tenantId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "activityType": "call",
    "subject": "Discovery call with Sarah Chen",
    "body": "Discussed enterprise licensing needs and timeline",
    "contactId": "d290f1ee-6c54-4b01-90e6-d701748f0851",
    "companyId": None,
    "dealId": "c8f9a0b1-2d3e-4f56-7890-abcdef123456",
    "scheduledAt": None,
    "dueDate": None,
    "priority": None,
    "status": "completed",
    "callDirection": "outbound",
    "callOutcome": "connected",
    "callDurationSeconds": 1800,
    "durationMinutes": None,
    "location": None,
    "meetingUrl": None,
    "ownerId": "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1",
    "completedAt": "2025-06-14T15:30:00Z",
    "createdAt": "2025-06-14T15:30:00Z",
    "updatedAt": "2025-06-14T15:30:00Z",
}

TASK_ACTIVITY: dict[str, Any] = {
    "id": "b8c9d0e1-2f3a-4567-89ab-cdef01234567",
    "tenantId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "activityType": "task",
    "subject": "Send proposal to Acme Corp",
    "body": "Include enterprise pricing and implementation timeline",
    "contactId": "d290f1ee-6c54-4b01-90e6-d701748f0851",
    "companyId": None,
    "dealId": "c8f9a0b1-2d3e-4f56-7890-abcdef123456",
    "scheduledAt": None,
    "dueDate": "2025-07-15T17:00:00Z",
    "priority": "high",
    "status": "pending",
    "callDirection": None,
    "callOutcome": None,
    "callDurationSeconds": None,
    "durationMinutes": None,
    "location": None,
    "meetingUrl": None,
    "ownerId": "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1",
    "completedAt": None,
    "createdAt": "2025-06-14T16:00:00Z",
    "updatedAt": "2025-06-14T16:00:00Z",
}

LIST_ACTIVITIES: list[dict[str, Any]] = [dict(CALL_ACTIVITY)]

BULK_CREATE_RESPONSE: dict[str, Any] = {
    "created": 4,
    "updated": 0,
    "failed": 0,
    "createdIds": [
        "a7b8c9d0-1e2f-3456-789a-bcdef0123456",
        "b8c9d0e1-2f3a-4567-89ab-cdef01234567",
        "c9d0e1f2-3a4b-5678-9abc-def012345678",
        "d0e1f2a3-4b5c-6789-abcd-ef0123456789",
    ],
    "errors": [],
}

REQUESTS = {
    "log a call": LOG_A_CALL,
    "create a task": CREATE_A_TASK,
    "schedule a meeting": SCHEDULE_A_MEETING,
}

# Which example response each curl example should produce (the meeting has none in the seed).
EXPECTED_RESPONSES = {"log a call": CALL_ACTIVITY, "create a task": TASK_ACTIVITY}

# Values that depend on who asks and when, not on what was asked.
VOLATILE = frozenset({"id", "tenantId", "ownerId", "completedAt", "createdAt", "updatedAt"})
