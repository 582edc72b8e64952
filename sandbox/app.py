"""The sandbox Activities API as a Flask app (SPEC §5; the seed document is the authority).

Decisions where the seed and SPEC are silent (also in the OpenAPI document):

- A malformed id in the path is 404, like an unknown one: the route only matches GUIDs.
- ``ownerId`` left out (or null) is the API key's owner, on create and on replace.
- PUT replaces: an omitted optional field becomes null and an omitted ``status`` is
  ``pending`` again (the create default).
- Bulk answers 200 with the summary. An item with an ``id`` updates that activity (replace
  semantics, as PUT) and counts in ``updated``; ``createdIds`` lists only the activities
  created, in request order. An ``id`` this tenant does not have is an item error naming
  ``id`` (the bulk endpoint does not create with caller-chosen ids).
- Field errors use wire names; ``$`` names the document as a whole (malformed JSON, an
  array where an object belongs), since ``body`` is an activity field.
- Requests are held to the OpenAPI document where the shared models are laxer
  (``sandbox.parsing.documented_rules``): RFC 3339 times, text lengths as sent, http(s)
  URLs with a plain host name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from api_client.models import (
    GUID_PATTERN,
    ActivityType,
    BulkActivityItem,
    UpdateActivityRequest,
)
from sandbox.activities import build_row, new_id
from sandbox.faults import FaultInjector, Faults
from sandbox.openapi import openapi_document
from sandbox.parsing import (
    MAX_BODY_BYTES,
    bulk_items,
    idempotency_key,
    parse_create,
    parse_list_query,
    parse_update,
    read_json,
    request_hash,
    validate,
)
from sandbox.problems import ProblemError, problem
from sandbox.store import Store, WriteTx, to_wire
from sandbox.tenants import DEV_API_KEY, Tenant, parse_key_spec, tenant_for_key

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["DEV_API_KEY", "MAX_BODY_BYTES", "Faults", "create_app", "tenant_for_key"]

JSON: Final = "application/json"
API_PREFIX: Final = "/api/v1/"
_DROP: Final = "sandbox.drop_connection"

log = logging.getLogger("sandbox")


class _GuidConverter(BaseConverter):
    """Matches only GUIDs, so ``/activities/bulk`` and malformed ids never reach a handler."""

    regex = GUID_PATTERN.strip("^$")


def create_app(
    *,
    db_path: str,
    api_keys: Sequence[str] | None = None,
    faults: Faults | None = None,
) -> Flask:
    """Build the sandbox app.

    Args:
        db_path: SQLite database file (created if missing; ``:memory:`` is per thread,
            so use a file).
        api_keys: Accepted ``X-Api-Key`` values, each ``KEY`` (a tenant of its own) or
            ``KEY=TENANT:OWNER`` (an owner in a named, shared tenant); None or empty
            means only :data:`DEV_API_KEY`.
        faults: Faults to inject; None for a well-behaved server.

    Returns:
        The Flask app (its ``wsgi_app`` can drop connections when ``faults`` asks to).
    """
    keys = list(api_keys) if api_keys else [DEV_API_KEY]
    api = _Api(
        store=Store(db_path),
        tenants=dict(parse_key_spec(spec) for spec in keys),
        injector=FaultInjector(faults or Faults()),
    )
    app = Flask("sandbox")
    # One byte over the limit: a chunked body (no Content-Length) is cut at this length
    # rather than refused, so read_json refuses anything longer than MAX_BODY_BYTES itself.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.url_map.converters["guid"] = _GuidConverter
    app.url_map.strict_slashes = False
    app.extensions["sandbox"] = api
    api.register(app)
    app.wsgi_app = _ConnectionDropper(app.wsgi_app)  # type: ignore[method-assign]
    return app


class _Api:
    def __init__(self, *, store: Store, tenants: dict[str, Tenant], injector: FaultInjector):
        self.store = store
        self.tenants = tenants
        self.injector = injector
        self.faults = injector.faults
        self._openapi: bytes | None = None

    def register(self, app: Flask) -> None:
        app.before_request(self.before)
        app.register_error_handler(Exception, self.on_error)
        add = app.add_url_rule
        add("/openapi.json", "openapi", self.openapi, methods=["GET"])
        add("/api/v1/activities", "list", self.list_activities, methods=["GET"])
        add("/api/v1/activities", "create", self.create_activity, methods=["POST"])
        add("/api/v1/activities/bulk", "bulk", self.bulk_create, methods=["POST"])
        add("/api/v1/activities/<guid:activity_id>", "get", self.get_activity, methods=["GET"])
        add("/api/v1/activities/<guid:activity_id>", "put", self.update_activity, methods=["PUT"])
        add(
            "/api/v1/activities/<guid:activity_id>",
            "delete",
            self.delete_activity,
            methods=["DELETE"],
        )

    # -- cross-cutting -------------------------------------------------------------------

    def before(self) -> Response | None:
        """Authenticate API requests, then apply the configured faults."""
        if not request.path.startswith(API_PREFIX):
            return None
        key = request.headers.get("X-Api-Key")
        if not key:
            return problem(
                401,
                "Send your API key in the X-Api-Key header.",
                errors={"X-Api-Key": ["is required"]},
                headers={"WWW-Authenticate": 'ApiKey header="X-Api-Key"'},
            )
        tenant = self.tenants.get(key)
        if tenant is None:
            return problem(
                401,
                "The API key in X-Api-Key is not valid.",
                errors={"X-Api-Key": ["is not a valid API key"]},
                headers={"WWW-Authenticate": 'ApiKey header="X-Api-Key"'},
            )
        g.tenant = tenant
        wait = self.injector.retry_after(key)
        if wait is not None:
            log.info("event=rate_limited tenant=%s retry_after=%s", tenant.tenant_id, wait)
            return problem(
                429,
                f"More than {self.faults.rate_limit} requests per second for this API key; "
                f"retry after {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        self.injector.delay()
        if self.injector.roll(self.faults.fail_rate):
            log.info("event=fault_503 tenant=%s path=%s", tenant.tenant_id, request.path)
            return problem(
                503,
                "The service is unavailable (injected fault); retry later.",
                headers={"Retry-After": "1"},
            )
        if self.injector.roll(self.faults.throttle_rate):
            log.info("event=fault_429 tenant=%s path=%s", tenant.tenant_id, request.path)
            return problem(
                429,
                "Too many requests for this API key (injected fault); retry after 1 s.",
                headers={"Retry-After": "1"},
            )
        if self.injector.roll(self.faults.drop_rate):
            request.environ[_DROP] = True
        return None

    def on_error(self, exc: Exception) -> Response:
        """Every error leaves as a problem document; nothing escapes as an HTML 500."""
        if isinstance(exc, ProblemError):
            return exc.response()
        if isinstance(exc, RequestEntityTooLarge):
            return problem(
                413,
                f"The request body is larger than {MAX_BODY_BYTES} bytes (1 MiB).",
                errors={"$": [f"must be at most {MAX_BODY_BYTES} bytes"]},
            )
        if isinstance(exc, MethodNotAllowed):
            allowed = sorted(exc.valid_methods or ())
            return problem(
                405,
                f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        if isinstance(exc, HTTPException):
            status = exc.code or 500
            if status == 404 and request.path.startswith(f"{API_PREFIX}activities/"):
                wrong = request.path.removeprefix(f"{API_PREFIX}activities/")
                detail = f"No activity {wrong!r}: activity ids are GUIDs."
            elif status == 404:
                detail = f"No such resource: {request.path}."
            else:
                detail = exc.description or exc.name
            return problem(status, detail)
        log.exception("event=unhandled_error method=%s path=%s", request.method, request.path)
        return problem(500, "The sandbox failed to handle this request; see its log.")

    def tenant(self) -> Tenant:
        tenant: Tenant = g.tenant
        return tenant

    def idempotency_key(self) -> str | None:
        return idempotency_key(request) if self.faults.idempotency else None

    def idempotent_start(self, payload: Any) -> tuple[str | None, str, Response | None]:
        """(key, request digest, the first response when this is a replay) for a POST.

        The replay is checked again inside the write transaction: two retries racing
        past this first look must still create once.
        """
        key = self.idempotency_key()
        if not key:
            return None, "", None
        digest = request_hash(request.method, request.path, payload)
        return key, digest, self.replay(self.store, key, digest)

    def replay(self, record_source: Store | WriteTx, key: str, digest: str) -> Response | None:
        """The first response for this key, a 422 for a different body, or None."""
        if isinstance(record_source, Store):
            record = record_source.idempotency(self.tenant().tenant_id, key)
        else:
            record = record_source.idempotency(key)
        if record is None:
            return None
        if record.request_hash != digest:
            raise ProblemError(
                422,
                "This Idempotency-Key was already used with a different request; "
                "use a new key for a new request.",
                errors={"Idempotency-Key": ["was already used with a different request"]},
            )
        log.info("event=idempotent_replay tenant=%s", self.tenant().tenant_id)
        return Response(
            record.response,
            status=record.status,
            mimetype=JSON,
            headers={"Idempotent-Replayed": "true"},
        )

    # -- endpoints -----------------------------------------------------------------------

    def openapi(self) -> Response:
        if self._openapi is None:
            self._openapi = json.dumps(openapi_document()).encode()
        return Response(self._openapi, mimetype=JSON)

    def list_activities(self) -> Response:
        query = parse_list_query(request.args)
        rows = self.store.page(
            self.tenant().tenant_id,
            limit=query.limit,
            offset=query.offset,
            since_us=query.since_us,
            columns=query.columns,
        )
        body = json.dumps([to_wire(row, query.columns) for row in rows])
        return Response(body, mimetype=JSON)

    def get_activity(self, activity_id: str) -> Response:
        row = self.store.get(self.tenant().tenant_id, activity_id.lower())
        if row is None:
            raise _not_found(activity_id)
        return Response(json.dumps(to_wire(row)), mimetype=JSON)

    def create_activity(self) -> Response:
        tenant = self.tenant()
        payload = read_json(request)
        key, digest, replayed = self.idempotent_start(payload)
        if replayed is not None:
            return replayed
        model = parse_create(payload)
        with self.store.write(tenant.tenant_id) as tx:
            if key and (replayed := self.replay(tx, key, digest)):
                return replayed
            row = build_row(
                model,
                activity_id=new_id(),
                activity_type=model.activity_type,
                tenant=tenant,
                now=tx.tick(),
            )
            tx.insert(row)
            body = json.dumps(to_wire(row)).encode()
            if key:
                tx.remember(key, digest, 201, body)
        log.info(
            "event=activity_created tenant=%s activity=%s type=%s",
            tenant.tenant_id,
            row["id"],
            row["activity_type"],
        )
        return Response(
            body,
            status=201,
            mimetype=JSON,
            headers={"Location": f"/api/v1/activities/{row['id']}"},
        )

    def update_activity(self, activity_id: str) -> Response:
        tenant = self.tenant()
        activity_id = activity_id.lower()
        existing = self.store.get(tenant.tenant_id, activity_id)
        if existing is None:
            raise _not_found(activity_id)
        stored_type = ActivityType(existing["activity_type"])
        model = parse_update(read_json(request), stored_type, UpdateActivityRequest)
        with self.store.write(tenant.tenant_id) as tx:
            current = tx.get(activity_id)
            if current is None:  # deleted while we validated
                raise _not_found(activity_id)
            row = build_row(
                model,
                activity_id=activity_id,
                activity_type=stored_type,
                tenant=tenant,
                now=tx.tick(),
                existing=current,
            )
            tx.update(row)
        log.info("event=activity_updated tenant=%s activity=%s", tenant.tenant_id, activity_id)
        return Response(json.dumps(to_wire(row)), mimetype=JSON)

    def delete_activity(self, activity_id: str) -> Response:
        tenant = self.tenant()
        activity_id = activity_id.lower()
        with self.store.write(tenant.tenant_id) as tx:
            deleted = tx.delete(activity_id)
        if not deleted:
            raise _not_found(activity_id)
        log.info("event=activity_deleted tenant=%s activity=%s", tenant.tenant_id, activity_id)
        return Response(status=204)

    def bulk_create(self) -> Response:
        tenant = self.tenant()
        payload = read_json(request)
        key, digest, replayed = self.idempotent_start(payload)
        if replayed is not None:
            return replayed
        items = bulk_items(payload)
        checked = [
            validate(BulkActivityItem, item)
            if isinstance(item, dict)
            else {"$": ["each activity must be a JSON object"]}
            for item in items
        ]
        created_ids: list[str] = []
        errors: list[dict[str, Any]] = []
        updated = 0
        with self.store.write(tenant.tenant_id) as tx:
            if key and (replayed := self.replay(tx, key, digest)):
                return replayed
            for index, item in enumerate(checked):
                if isinstance(item, dict):
                    errors.append({"index": index, "errors": item})
                    continue
                if item.id is None:
                    row = build_row(
                        item,
                        activity_id=new_id(),
                        activity_type=item.activity_type,
                        tenant=tenant,
                        now=tx.tick(),
                    )
                    tx.insert(row)
                    created_ids.append(row["id"])
                    continue
                existing = tx.get(item.id)
                if existing is None:
                    message = "no activity with this id; leave id out to create one"
                    errors.append({"index": index, "errors": {"id": [message]}})
                elif existing["activity_type"] != item.activity_type.value:
                    message = f"cannot change: this activity is a {existing['activity_type']}"
                    errors.append({"index": index, "errors": {"activityType": [message]}})
                else:
                    row = build_row(
                        item,
                        activity_id=item.id,
                        activity_type=item.activity_type,
                        tenant=tenant,
                        now=tx.tick(),
                        existing=existing,
                    )
                    tx.update(row)
                    updated += 1
            result = {
                "created": len(created_ids),
                "updated": updated,
                "failed": len(errors),
                "createdIds": created_ids,
                "errors": errors,
            }
            body = json.dumps(result).encode()
            if key:
                tx.remember(key, digest, 200, body)
        log.info(
            "event=bulk_done tenant=%s created=%d updated=%d failed=%d",
            tenant.tenant_id,
            len(created_ids),
            updated,
            len(errors),
        )
        return Response(body, status=200, mimetype=JSON)


def _not_found(activity_id: str) -> ProblemError:
    return ProblemError(404, f"No activity {activity_id} for this API key.")


class _ConnectionDropper:
    """WSGI middleware: after a request marked for dropping was handled (and committed),
    shut the client socket so the client gets no response at all.

    Servers that expose the socket (gunicorn's ``gunicorn.socket``, werkzeug's
    ``werkzeug.socket``) then fail to write with EPIPE, which both treat as a client gone
    away. In-process callers (Flask's test client, ``httpx.WSGITransport``) have no socket;
    they get :class:`ConnectionAbortedError` raised from the app instead.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        result = self.app(environ, start_response)
        if not environ.get(_DROP):
            return result
        close: Callable[[], None] | None = getattr(result, "close", None)
        if close is not None:
            close()
        sock: socket.socket | None = environ.get("gunicorn.socket") or environ.get(
            "werkzeug.socket"
        )
        log.info("event=fault_drop path=%s", environ.get("PATH_INFO"))
        if sock is None:
            raise ConnectionAbortedError("sandbox dropped the connection (injected fault)")
        with contextlib.suppress(OSError):  # the client may already be gone
            sock.shutdown(socket.SHUT_RDWR)
        return []
