"""The fake's HTTP face: a Flask blueprint with Slack's three doors.

- ``/api/<method>``: the Web API, taking what ``slack_sdk.WebClient`` sends (form or JSON
  bodies, query strings, the token as ``Authorization: Bearer`` or a ``token`` field) and
  answering JSON with Slack's status codes and headers (``Retry-After`` on a 429);
- ``/response/<id>``: response URLs, answered in plain text as Slack does;
- ``/oauth/v2/authorize``: the consent page (GET) and its Allow/Cancel (POST), and
  ``/api/oauth.v2.access`` authenticated by the client's id and secret (HTTP basic auth
  or the form), see :mod:`devstack.fake_slack.oauth`;
- ``/link/``: Socket Mode's WebSocket (:mod:`devstack.fake_slack.socket_mode`).

Only HTTP lives here; every answer comes from :class:`~devstack.fake_slack.server.FakeSlack`,
so the tests, the benchmarks and the console (which mounts this blueprint under
``/console``) all talk to the same fake.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, request

from devstack.fake_slack.socket_mode import add_socket_mode_route

if TYPE_CHECKING:
    from devstack.fake_slack.server import FakeSlack


def _request_params() -> dict[str, Any]:
    params: dict[str, Any] = dict(request.args.items())
    content_type = request.mimetype or ""
    raw = request.get_data()
    if content_type == "application/json" and raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update(body)
    elif raw:
        params.update(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
    return params


def _bearer_token(params: dict[str, Any]) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    token = params.pop("token", None)
    return str(token) if token else None


def create_blueprint(fake: FakeSlack, name: str = "fake_slack") -> Blueprint:
    """The Web API (``/api/<method>``), response URLs (``/response/<id>``) and Socket Mode
    WebSocket (``/link/``, see :mod:`devstack.fake_slack.socket_mode`) of ``fake``."""
    bp = Blueprint(name, __name__)

    @bp.route("/api/oauth.v2.access", methods=["GET", "POST"])
    def oauth_v2_access() -> Response:
        params = _request_params()
        auth = request.authorization
        basic = (
            (auth.username or "", auth.password or "") if auth and auth.type == "basic" else None
        )
        status, body, _headers = fake.oauth_access(params, basic)
        return Response(json.dumps(body), status=status, mimetype="application/json")

    @bp.route("/oauth/v2/authorize", methods=["GET"])
    def consent_page() -> Response:
        status, page = fake.consent_page(
            dict(request.args.items()), request.script_root + request.path
        )
        return Response(page, status=status, mimetype="text/html")

    @bp.route("/oauth/v2/authorize", methods=["POST"])
    def consent_decision() -> Response:
        status, where = fake.consent_decision(dict(request.form.items()))
        if status == 302:
            return Response("", status=302, headers={"Location": where})
        return Response(f"Something went wrong: {where}", status=status, mimetype="text/plain")

    @bp.route("/api/<method>", methods=["GET", "POST"])
    def api(method: str) -> Response:
        params = _request_params()
        token = _bearer_token(params)
        status, body, headers = fake.handle(method, params, token)
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        response.headers.update(headers)
        return response

    @bp.route("/response/<url_id>", methods=["POST"])
    def response_url(url_id: str) -> Response:
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = dict(parse_qsl(raw.decode("utf-8")))
        status, text = fake.handle_response_url(url_id, body if isinstance(body, dict) else {})
        return Response(text, status=status, mimetype="text/plain")

    @bp.route("/files-pri/<path:rest>", methods=["GET"])
    def file_private(rest: str) -> Response:
        # Slack answers url_private only to a bearer token; anything else is sent to log in.
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else None
        content = fake.download(rest, token)
        if content is None:
            return Response("", status=302, headers={"Location": f"{fake.base_url}/signin"})
        return Response(content, status=200, mimetype="application/octet-stream")

    @bp.route("/upload/<upload_id>", methods=["POST"])
    def upload(upload_id: str) -> Response:
        if not fake.receive_upload(upload_id, request.get_data()):
            return Response("not found", status=404, mimetype="text/plain")
        return Response(f"OK - {len(request.get_data())}", status=200, mimetype="text/plain")

    add_socket_mode_route(bp, fake.socket_mode)
    return bp


def create_app(fake: FakeSlack) -> Flask:
    """A WSGI app serving ``fake`` at its root (``/api/...``, ``/response/...``)."""
    app = Flask(__name__)
    app.register_blueprint(create_blueprint(fake))
    return app
