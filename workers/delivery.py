"""Creating an activity exactly once, even against a Rally that ignores Idempotency-Key.

SPEC §8. The seed API does not promise to honour ``Idempotency-Key``, so a create that
was sent and got no answer (a read timeout, a dropped connection: the *unanswered* case)
may or may not exist in Rally, and sending it again may make a second one. So, before
any retry of an unanswered create, we *reconcile*: list what changed in the tenant since
just before the first attempt (``updatedSince``, only the writable fields) and adopt the
activity that matches the submission exactly, instead of creating again.

What makes an adoption certain:

- **exact**: every writable field equals what was sent (an unset field must be empty,
  ``status`` defaults to ``pending``, an unset ``ownerId`` is the key's owner, which
  Rally picks: compared once an answered create has told us who that is), and it was
  created at or after the first attempt (minus the skew);
- **one owner per activity**: a submission claims an activity atomically
  (``State.claim_activity``, SET NX), and one that another submission owns is never
  adopted; a create that was answered claims its activity too;
- **one of the same content in flight**: two submissions with the same content (the
  same subject from the same person, twice) would each match the other's activity, so
  creates of identical content in one tenant go one at a time
  (``State.creating_lock``): whoever holds the lock and finds an unowned exact match
  knows it is its own.

With a Rally that honours the key nothing extra is asked: the list is made only after
an unanswered attempt (or after a worker died in the middle of one). What cannot be
told apart is a request still in flight inside Rally when we list (a read timeout on a
slow server, which commits after we looked); that one may still be created twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import redis
from redis.exceptions import LockError, LockNotOwnedError
from redis.lock import Lock

from api_client import RallyClient, RallyConnectionError, RallyError
from api_client.models import (
    ActivityResponse,
    CreateActivityRequest,
    PartialActivityResponse,
    format_utc,
)
from workers.state import CreateAttempt, State
from workers.workspace import Credential

log = logging.getLogger(__name__)

# Rally's clock and ours may disagree; an activity stamped a little "before" we sent it
# must still be found. Only exact, unowned matches are adopted, so a wider window costs
# a few more list items, never a wrong adoption.
CLOCK_SKEW: Final = timedelta(seconds=30)
# Sends of one create within one job run (each unanswered one reconciled before the
# next); after that RQ retries the job with its backoff, reconciling first.
MAX_SENDS: Final = 3
# A dead holder blocks creates of the same content for at most this long; a live one
# finishes within a job's timeout.
LOCK_SECONDS: Final = 120
LOCK_WAIT_SECONDS: Final = 30

MATCH_FIELDS: Final[tuple[str, ...]] = tuple(
    field.alias or name for name, field in CreateActivityRequest.model_fields.items()
)
"""The writable fields, by wire name: what an exact match compares."""


class IdenticalCreateInFlight(RallyError):
    """Another submission with the same content is being created; RQ tries again later."""

    retryable = True


def tenant_of(credential: Credential) -> str:
    """The tenant's name in Redis keys: every key of one Rally shares its activities."""
    return hashlib.sha256(credential.base_url.rstrip("/").lower().encode()).hexdigest()[:16]


def wanted_fields(request: dict[str, Any]) -> dict[str, Any]:
    """Every writable field as Rally will store it (wire names, ``None`` for unset)."""
    return CreateActivityRequest.model_validate(request).model_dump(by_alias=True, mode="json")


def content_digest(request: dict[str, Any]) -> str:
    """The same for two submissions that would create indistinguishable activities."""
    canonical = json.dumps(wanted_fields(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def matches(
    candidate: PartialActivityResponse,
    wanted: dict[str, Any],
    since: datetime,
    *,
    key_owner: str | None = None,
) -> bool:
    """Whether ``candidate`` is exactly what ``wanted`` would have created, after ``since``.

    ``key_owner`` is the owner Rally gives what the key creates without an ``ownerId``,
    when known.
    """
    if candidate.created_at is None or candidate.created_at < since:
        return False
    got = candidate.model_dump(by_alias=True, mode="json")
    for name, value in wanted.items():
        if name == "ownerId" and value is None:
            if key_owner is None:
                continue  # Rally makes the key's owner the owner; we do not know it yet
            value = key_owner
        if name == "status" and value is None:
            value = "pending"
        if got[name] != value:
            return False
    return True


def create_once(
    rally: RallyClient,
    conn: redis.Redis,
    credential: Credential,
    *,
    submission_id: str,
    request: dict[str, Any],
    idempotency_key: str,
    lister: Callable[[], RallyClient] | None = None,
) -> tuple[ActivityResponse, bool]:
    """Create ``request`` in Rally once for ``submission_id``, however often this runs.

    Args:
        rally: A client for ``credential``.
        conn: Redis, where the attempt's record, the claims and the lock live.
        credential: Whom the create is sent as (names the tenant).
        submission_id: The submission; one activity at most belongs to it.
        request: ``CreateActivityRequest`` in wire JSON, as it is to be sent.
        idempotency_key: Sent with every attempt (for a Rally that honours it).
        lister: Makes the client a reconciling list goes through, when it should retry
            more than ``rally`` does (a caller whose creates never retry in the call).

    Returns:
        The activity, and whether it was adopted rather than answered to a create.

    Raises:
        RallyError: Rally refused (permanent) or failed transiently (``retryable``);
            an unanswered attempt leaves its mark, so the next run reconciles first.
    """
    state = State(conn)
    tenant = tenant_of(credential)
    attempt = state.get_create_attempt(submission_id)
    if attempt is not None and attempt.activity_id is not None:
        # A run that created it and died before finishing the job.
        return rally.get_activity(attempt.activity_id), True
    if attempt is None:
        # Kept (with the first send's mark) before anything is sent, so a retry in any
        # worker lists from the same moment.
        attempt = CreateAttempt(since=format_utc(datetime.now(UTC) - CLOCK_SKEW))
    model = CreateActivityRequest.model_validate(request)
    lock = state.creating_lock(tenant, content_digest(request), seconds=LOCK_SECONDS)
    _take(lock, submission_id)
    try:
        for _ in range(MAX_SENDS):
            if attempt.unanswered:
                if lister is None:
                    found = _reconcile(rally, state, credential, submission_id, request, attempt)
                else:
                    with lister() as listing:
                        found = _reconcile(
                            listing, state, credential, submission_id, request, attempt
                        )
                if found is not None:
                    _settle(state, submission_id, attempt, found)
                    return rally.get_activity(found), True
            # Marked before sending: a worker killed from here on leaves it for the next.
            attempt.unanswered = True
            state.save_create_attempt(submission_id, attempt)
            try:
                activity = rally.create_activity(
                    model, idempotency_key=idempotency_key, retry_unanswered=False
                )
            except RallyConnectionError as exc:
                if exc.unanswered:
                    log.warning(
                        "event=create_unanswered submission=%s tenant=%s",
                        submission_id,
                        tenant,
                    )
                    continue
                _answered(state, submission_id, attempt)
                raise
            except RallyError:
                _answered(state, submission_id, attempt)
                raise
            if request.get("ownerId") is None and activity.owner_id:
                state.set_key_owner(credential.namespace, activity.owner_id)
            if not state.claim_activity(tenant, activity.id, submission_id):
                log.error(
                    "event=adoption_conflict alert=true submission=%s activity=%s",
                    submission_id,
                    activity.id,
                )
            _settle(state, submission_id, attempt, activity.id)
            return activity, False
        raise RallyConnectionError(
            f"no answer to {MAX_SENDS} creates, and none of them is in Rally yet",
            method="POST",
            path="/activities",
            unanswered=True,
        )
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("event=creating_lock_lost submission=%s", submission_id)


def _take(lock: Lock, submission_id: str) -> None:
    """Acquire the content lock as ``submission_id``; a dead earlier run's hold is ours."""
    with contextlib.suppress(LockNotOwnedError):
        lock.do_release(submission_id)  # compare-and-delete: only a hold of our own
    if not lock.acquire(blocking=True, blocking_timeout=LOCK_WAIT_SECONDS, token=submission_id):
        raise IdenticalCreateInFlight(
            "another submission with the same content is being created; trying again later"
        )


def _answered(state: State, submission_id: str, attempt: CreateAttempt) -> None:
    """This attempt was answered (or never connected): it created nothing."""
    attempt.unanswered = False
    state.save_create_attempt(submission_id, attempt)


def _settle(state: State, submission_id: str, attempt: CreateAttempt, activity_id: str) -> None:
    attempt.unanswered = False
    attempt.activity_id = activity_id
    state.save_create_attempt(submission_id, attempt)


def _reconcile(
    rally: RallyClient,
    state: State,
    credential: Credential,
    submission_id: str,
    request: dict[str, Any],
    attempt: CreateAttempt,
) -> str | None:
    """The id of the activity an unanswered attempt created, claimed for us; or None."""
    since = datetime.fromisoformat(attempt.since)
    found = adopt(rally, state, credential, since, {submission_id: request})
    log.info(
        "event=create_reconciled submission=%s activity=%s",
        submission_id,
        found.get(submission_id, "none"),
    )
    return found.get(submission_id)


def adopt(
    rally: RallyClient,
    state: State,
    credential: Credential,
    since: datetime,
    requests: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Reconcile: the activities Rally has for these unanswered creates, each claimed.

    Lists what changed in the tenant since ``since`` (only the writable fields) and gives
    each submission an exact, unclaimed match (one submission per activity; one it had
    claimed already, before a crash, is its own).

    Args:
        rally: A client for ``credential``.
        requests: Submission -> ``CreateActivityRequest`` as sent.

    Returns:
        Submission -> activity id, for those Rally has.
    """
    tenant = tenant_of(credential)
    key_owner = state.key_owner(credential.namespace)
    wanted = {sub: wanted_fields(request) for sub, request in requests.items()}
    candidates = list(
        rally.iter_activities(
            updated_since=since, fields=[*MATCH_FIELDS, "createdAt"], page_size=100
        )
    )
    owners = state.activity_claimants(tenant, [c.id for c in candidates])
    adopted: dict[str, str] = {}
    for candidate in candidates:
        owner = owners.get(candidate.id)
        if owner is not None and owner not in requests:
            continue
        if owner in requests and owner not in adopted:
            adopted[owner] = candidate.id  # ours already (claimed before a crash)
            continue
        for sub, fields in wanted.items():
            if sub in adopted or not matches(candidate, fields, since, key_owner=key_owner):
                continue
            if state.claim_activity(tenant, candidate.id, sub):
                adopted[sub] = candidate.id
            break
    return adopted
