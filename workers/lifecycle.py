"""A workspace's life: checking its Rally connection and people's keys, and forgetting it.

RQ jobs with plain arguments (team and user ids; never a key: the key is read from the
store, encrypted at rest, inside the job that needs it).

- :func:`check_connection`: one list call with the workspace's key (SPEC §6), its result
  on the connection and on the admin's App Home.
- :func:`check_personal_key`: the same for a person's own key, which must reach the
  workspace's tenant.
- :func:`forget_team`: ``app_uninstalled``/``tokens_revoked``: every row and Redis key kept
  for the team goes, its tokens first.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from api_client import (
    AuthenticationError,
    NotFoundError,
    RallyClient,
    RallyConnectionError,
    RallyError,
)
from core.redis import worker_redis
from core.settings import Settings
from core.store import Store
from workers import open_tasks, workspace
from workers.rally import EVENT_HOOKS
from workers.reminders.index import TaskIndex
from workers.slack import tell_user

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """What one list call with a key told: whether it works, and the tenant it reached."""

    ok: bool
    detail: str
    tenant_id: str | None = None


def check_key(settings: Settings, base_url: str, api_key: str) -> Check:
    """One ``GET /api/v1/activities?limit=1`` with the key, refused before any request if
    the host is not allowed (``RALLY_ALLOWED_HOSTS``). Never raises; never says the key."""
    host = urlsplit(base_url).hostname or base_url
    if not workspace.host_allowed(settings, base_url):
        return Check(False, f"{host} is not an allowed Rally host (RALLY_ALLOWED_HOSTS)")
    try:
        with RallyClient(
            base_url, api_key, timeout=10.0, max_retries=1, event_hooks=EVENT_HOOKS
        ) as rally:
            page = rally.list_activities(limit=1)
    except AuthenticationError:
        return Check(False, f"Rally at {host} refused the key (401)")
    except RallyConnectionError:
        return Check(False, f"could not reach Rally at {host}")
    except RallyError as exc:
        return Check(False, f"Rally at {host} answered {exc.status_code or 'an error'}")
    tenant = str(page[0].tenant_id) if page else None
    return Check(True, f"connected to {host}", tenant)


def check_connection(team: str, user: str | None = None) -> dict[str, Any]:
    """RQ job: check the workspace's stored key; record the result; tell who connected it."""
    settings = Settings()
    store = workspace.store_of(settings)
    connection = store.connection(team)
    if connection is None:
        return {"status": "gone"}
    result = check_key(settings, connection.base_url, connection.api_key)
    store.set_connection_status(
        team, "ok" if result.ok else "failed", detail=result.detail, tenant_id=result.tenant_id
    )
    log.info("event=connection_checked team=%s ok=%s", team, result.ok)
    if result.ok:
        store.audit(
            team, user, "connected_workspace", surface="home", host=_host(connection.base_url)
        )
    _show(settings, team, user, _connection_words(result))
    return {"status": "ok" if result.ok else "failed"}


def check_personal_key(team: str, user: str) -> dict[str, Any]:
    """RQ job: check a person's own key against the workspace's tenant."""
    settings = Settings()
    store = workspace.store_of(settings)
    key = store.personal_key(team, user)
    tenant = workspace.workspace_credential(settings, team)
    if key is None:
        return {"status": "gone"}
    if tenant is None:
        store.set_personal_key_status(team, user, "failed", detail="the workspace isn't connected")
        return {"status": "failed"}
    result = check_key(settings, tenant.base_url, key.api_key)
    if result.ok and not _same_tenant(tenant.base_url, tenant.api_key, key.api_key):
        # A key of another tenant would log this workspace's work somewhere else.
        result = Check(False, "that key belongs to another Rally tenant than this workspace's")
    store.set_personal_key_status(team, user, "ok" if result.ok else "failed", detail=result.detail)
    if result.ok:
        store.audit(team, user, "connected_key", surface="command")
    words = (
        ":key: Your own Rally key works: what you log from now on is attributed to you in Rally."
        if result.ok
        else f":warning: Your Rally key didn't work ({result.detail}); you still log with the "
        "workspace's key. Try `/rally connect` again."
    )
    _show(settings, team, user, words)
    return {"status": "ok" if result.ok else "failed"}


def _same_tenant(base_url: str, workspace_key: str, personal_key: str) -> bool:
    """Whether two keys reach the same tenant: one activity each key lists must be one the
    other key can read. With no activity in either, nothing tells them apart: same."""
    with (
        RallyClient(
            base_url, workspace_key, timeout=10.0, max_retries=1, event_hooks=EVENT_HOOKS
        ) as theirs,
        RallyClient(
            base_url, personal_key, timeout=10.0, max_retries=1, event_hooks=EVENT_HOOKS
        ) as mine,
    ):
        for lister, reader in ((theirs, mine), (mine, theirs)):
            page = lister.list_activities(limit=1, fields=["id"])
            if page:
                try:
                    reader.get_activity(page[0].id)
                except NotFoundError:
                    return False
                return True
    return True


def _connection_words(result: Check) -> str:
    if result.ok:
        return f":large_green_circle: Rally is {result.detail}. Everyone here can log now."
    return f":red_circle: Rally isn't connected: {result.detail}. Nothing was changed."


def _host(base_url: str) -> str:
    return urlsplit(base_url).hostname or ""


def _show(settings: Settings, team: str, user: str | None, text: str) -> None:
    """Tell the person (a DM) and refresh their Home, where the state is shown."""
    if not user:
        return
    try:
        client = workspace.slack_client(settings, team)
    except workspace.NotInstalled:
        return
    tell_user(client, {"user_id": user}, text)
    conn = worker_redis(settings.redis_url)
    open_tasks.publish_home(client, conn, settings, team=team, user=user)


def forget_team(team: str, enterprise_id: str | None = None) -> dict[str, Any]:
    """RQ job: the app left a workspace. Delete its tokens and everything kept for it.

    The database rows (installation and bot rows, connection, keys, mappings, links, audit
    trail) and the Redis keys: per-user caches, submissions, origins, reminder copies and
    the reminder index of its tenant, unless another workspace still uses that tenant.
    """
    settings = Settings()
    store = workspace.store_of(settings)
    conn = worker_redis(settings.redis_url)
    namespace = _namespace_if_alone(settings, store, team)
    counts = store.forget_team(team, enterprise_id=enterprise_id)
    removed = forget_team_keys(conn, team, namespace)
    log.info(
        "event=team_forgotten team=%s rows=%d redis_keys=%d",
        team,
        sum(counts.values()),
        removed,
    )
    return {"rows": counts, "redis_keys": removed}


def _namespace_if_alone(settings: Settings, store: Store, team: str) -> str | None:
    credential = workspace.workspace_credential(settings, team)
    if credential is None or not settings.distributed:
        return None
    for other in store.connected_teams():
        if other != team:
            theirs = workspace.workspace_credential(settings, other)
            if theirs is not None and theirs.namespace == credential.namespace:
                return None  # another workspace still reminds from this index
    return credential.namespace


def forget_team_keys(conn: redis.Redis, team: str, namespace: str | None) -> int:
    """Delete every Redis key kept for ``team`` (and the index ``namespace``, if given)."""
    doomed: set[bytes | str] = set()
    for kind in ("tz", "role", "recent", "logged-tasks", "undelivered", "digest", "rec", "pace"):
        doomed.update(conn.scan_iter(match=f"rally:{kind}:{team}:*", count=500))
    # Creates and outcomes still waiting on the team's lanes (workers.lanes): their drainers
    # find nothing and end.
    for lane_kind in ("create", "tell"):
        doomed.update(conn.scan_iter(match=f"rally:lane:{lane_kind}:{team}:*", count=500))
        for member in conn.smembers(f"rally:lanes:{lane_kind}"):
            if (member.decode() if isinstance(member, bytes) else member).startswith(f"{team}:"):
                conn.srem(f"rally:lanes:{lane_kind}", member)
    activity_ids: set[str] = set()
    for pattern in ("rally:submission:*", "rally:origin:*"):
        for key in conn.scan_iter(match=pattern, count=500):
            raw = conn.get(key)
            if raw is not None and _team_of(raw) == team:
                doomed.add(key)
                name = key.decode() if isinstance(key, bytes) else key
                if name.startswith("rally:origin:"):
                    activity_ids.add(name.removeprefix("rally:origin:"))
    if namespace is not None:
        activity_ids |= TaskIndex(conn, namespace).ids()
        doomed.update(conn.scan_iter(match=f"rally:rem:{namespace}:*", count=1000))
    for activity_id in activity_ids:
        for kind in ("reminder", "unfurl", "acted", "acting"):
            doomed.update(conn.scan_iter(match=f"rally:{kind}:{activity_id}:*", count=100))
    return int(conn.delete(*doomed)) if doomed else 0


def _team_of(raw: bytes | str) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data.get("team") if isinstance(data, dict) else None
