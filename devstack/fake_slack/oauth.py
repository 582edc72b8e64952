"""Slack's OAuth v2, faked: the consent page, ``oauth.v2.access``, and every token issued.

What Slack documents, and what Bolt's flow and ``slack_sdk``'s ``TokenRotator`` rely on:

- ``GET /oauth/v2/authorize?client_id&scope&state[&redirect_uri][&team]``: the consent
  page, "Install Rally into <team>", with the workspaces to pick from and an **Allow**
  button; allowing redirects to the app's redirect URL with ``?code=…&state=…``,
  cancelling with ``?error=access_denied&state=…``. A ``redirect_uri`` that is not the
  app's own is refused (``bad_redirect_uri``), as is an unknown ``client_id``.
- ``oauth.v2.access``: the client authenticates with HTTP basic auth or ``client_id`` +
  ``client_secret`` in the form; ``grant_type=authorization_code`` (the default) trades a
  code, once and within 10 minutes, for the installation: ``access_token`` (``xoxb-…``),
  ``token_type``, ``scope``, ``bot_user_id``, ``app_id``, ``team`` ``{id, name}``,
  ``enterprise`` (null), ``is_enterprise_install``, ``authed_user`` ``{id}``. With token
  rotation turned on for the app, the access token is an expiring ``xoxe.xoxb-1-…`` with
  ``expires_in`` (12 hours) and a ``refresh_token`` (``xoxe-1-…``);
  ``grant_type=refresh_token`` trades that refresh token, once (it is revoked on use), for
  a new pair.
- Every Web API call's bearer token is one of :class:`Tokens`: unknown is
  ``invalid_auth``, past its expiry ``token_expired``, revoked (the app uninstalled, or
  rotated away) ``token_revoked``.

No locking: :class:`~devstack.fake_slack.server.FakeSlack` holds its lock around every call.
"""

from __future__ import annotations

import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from devstack.fake_slack.failures import SlackError
from devstack.fake_slack.world import API_APP_ID, BOT_USER_ID

CODE_TTL_S = 600
"""A code must be exchanged within 10 minutes, as Slack says."""
ROTATING_EXPIRES_IN_S = 43_200
"""Slack's expiring access tokens last 12 hours."""


@dataclass
class OAuthApp:
    """An app as Slack's app settings know it (Basic Information and OAuth & Permissions)."""

    client_id: str
    client_secret: str
    redirect_uri: str | None = None
    token_rotation: bool = False
    expires_in: int = ROTATING_EXPIRES_IN_S
    app_id: str = API_APP_ID


@dataclass
class Token:
    """One token Slack issued: whose, what kind, until when."""

    value: str
    team: str
    kind: str  # "bot" | "refresh"
    client_id: str | None = None
    expires_at: float | None = None
    revoked: bool = False
    scope: str = ""
    user: str | None = None
    issued_at: float = field(default_factory=time.time)


@dataclass
class _Code:
    code: str
    client_id: str
    team: str
    user: str
    scope: str
    redirect_uri: str | None
    issued_at: float
    used: bool = False


@dataclass(frozen=True)
class TeamCard:
    """What the consent page and the installation response say about a workspace."""

    id: str
    name: str
    installer: str
    people: tuple[tuple[str, str], ...] = ()  # (user id, real name)


class Tokens:
    """Every token issued, the apps that may ask for them, and the codes in flight."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.apps: dict[str, OAuthApp] = {}
        self._tokens: dict[str, Token] = {}
        self._codes: dict[str, _Code] = {}

    # -- scripting -------------------------------------------------------------------

    def register_app(self, app: OAuthApp) -> None:
        self.apps[app.client_id] = app

    def add_static(self, value: str, team: str) -> None:
        """A token that exists before any OAuth (single-workspace mode's ``SLACK_BOT_TOKEN``)."""
        self._tokens[value] = Token(value, team, "bot")

    def expire(self, value: str) -> None:
        """Make ``value`` be past its expiry (Slack answers ``token_expired`` from now on)."""
        self._tokens[value].expires_at = time.time() - 1

    def revoke_team(self, team: str) -> list[str]:
        """Revoke every token of ``team`` (the app was uninstalled there); the tokens."""
        revoked = []
        for token in self._tokens.values():
            if token.team == team and not token.revoked:
                token.revoked = True
                revoked.append(token.value)
        return revoked

    # -- reading -----------------------------------------------------------------------

    def get(self, value: str | None) -> Token | None:
        return self._tokens.get(value or "")

    def issued(self, team: str | None = None) -> list[Token]:
        """Every token issued (to ``team``), oldest first."""
        return [t for t in self._tokens.values() if team is None or t.team == team]

    def team_of(self, value: str | None) -> str | None:
        """Which workspace a bearer token belongs to (None: not a token of ours)."""
        token = self._tokens.get(value or "")
        return token.team if token is not None and token.kind == "bot" else None

    def check(self, value: str | None, team: str) -> str | None:
        """Why ``value`` may not call the Web API of ``team`` (Slack's error), or None."""
        token = self._tokens.get(value or "")
        if token is None or token.kind != "bot" or token.team != team:
            return "invalid_auth"
        if token.revoked:
            return "token_revoked"
        if token.expires_at is not None and token.expires_at <= time.time():
            return "token_expired"
        return None

    # -- the consent page ---------------------------------------------------------------

    def consent(self, params: dict[str, str], teams: list[TeamCard], action: str) -> str:
        """The consent page's HTML for ``GET /oauth/v2/authorize``.

        Raises:
            SlackError: ``invalid_client_id``, ``bad_redirect_uri``, ``invalid_scope``.
        """
        app = self._app_for_authorize(params)
        chosen = params.get("team") or (teams[0].id if teams else "")
        options = "".join(
            f'<option value="{html.escape(t.id)}"{" selected" if t.id == chosen else ""}>'
            f"{html.escape(t.name)} ({html.escape(t.id)})</option>"
            for t in teams
        )
        title = next((t.name for t in teams if t.id == chosen), chosen)
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params.get(name, ""))}">'
            for name in ("client_id", "scope", "user_scope", "state", "redirect_uri")
        )
        scopes = "".join(
            f"<li><code>{html.escape(s)}</code></li>"
            for s in params.get("scope", "").split(",")
            if s
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>Install Rally into {html.escape(title)}</title>"
            "<style>body{font:15px system-ui,sans-serif;max-width:34em;margin:3em auto}"
            "button{font-size:15px;padding:.5em 1.5em;margin-right:1em}</style></head><body>"
            f"<h1 id='consent-title'>Install Rally into {html.escape(title)}</h1>"
            f"<p>Rally (app <code>{html.escape(app.app_id)}</code>) is asking to:</p>"
            f"<ul>{scopes}</ul>"
            f"<form method='post' action='{html.escape(action)}'>{hidden}"
            "<p><label>Workspace <select name='team' id='consent-team'>"
            f"{options}</select></label></p>"
            "<button type='submit' name='decision' value='allow' id='consent-allow'>"
            "Allow</button>"
            "<button type='submit' name='decision' value='deny' id='consent-cancel'>"
            "Cancel</button></form></body></html>"
        )

    def decide(self, form: dict[str, str], teams: list[TeamCard]) -> str:
        """The answer to the consent form: where to redirect the browser.

        Raises:
            SlackError: the app or redirect URL is not one Slack knows, or no such team.
        """
        app = self._app_for_authorize(form)
        redirect = form.get("redirect_uri") or app.redirect_uri
        if not redirect:
            raise SlackError("no_redirect_uri")
        state = form.get("state", "")
        if form.get("decision") != "allow":
            return _with_query(redirect, {"error": "access_denied", "state": state})
        team = next((t for t in teams if t.id == form.get("team")), None)
        if team is None:
            raise SlackError("team_not_found")
        code = f"{int(time.time())}.{secrets.token_hex(12)}"
        self._codes[code] = _Code(
            code,
            app.client_id,
            team.id,
            team.installer,
            form.get("scope", ""),
            form.get("redirect_uri") or None,
            time.time(),
        )
        return _with_query(redirect, {"code": code, "state": state})

    def _app_for_authorize(self, params: dict[str, str]) -> OAuthApp:
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            raise SlackError("invalid_client_id")
        redirect = params.get("redirect_uri")
        if redirect and app.redirect_uri and not _same_redirect(redirect, app.redirect_uri):
            raise SlackError("bad_redirect_uri")
        if not params.get("scope") and not params.get("user_scope"):
            raise SlackError("invalid_scope")
        return app

    # -- oauth.v2.access ------------------------------------------------------------------

    def access(
        self,
        params: dict[str, Any],
        basic: tuple[str, str] | None,
        team_name: dict[str, str],
    ) -> dict[str, Any]:
        """``oauth.v2.access``'s body (without ``ok``).

        Raises:
            SlackError: ``invalid_client_id``, ``bad_client_secret``, ``invalid_code``,
                ``code_already_used``, ``bad_redirect_uri``, ``invalid_refresh_token``,
                ``invalid_grant_type``.
        """
        client_id, secret = basic or (
            str(params.get("client_id") or ""),
            str(params.get("client_secret") or ""),
        )
        app = self.apps.get(client_id)
        if app is None:
            raise SlackError("invalid_client_id")
        if not secrets.compare_digest(secret.encode(), app.client_secret.encode()):
            raise SlackError("bad_client_secret")
        grant = params.get("grant_type") or "authorization_code"
        if grant == "authorization_code":
            return self._exchange_code(app, params, team_name)
        if grant == "refresh_token":
            return self._refresh(app, str(params.get("refresh_token") or ""), team_name)
        raise SlackError("invalid_grant_type")

    def _exchange_code(
        self, app: OAuthApp, params: dict[str, Any], team_name: dict[str, str]
    ) -> dict[str, Any]:
        found = self._codes.get(str(params.get("code") or ""))
        if found is None or found.client_id != app.client_id:
            raise SlackError("invalid_code")
        if found.used:
            raise SlackError("code_already_used")
        if time.time() - found.issued_at > CODE_TTL_S:
            raise SlackError("code_expired")
        if found.redirect_uri and params.get("redirect_uri") != found.redirect_uri:
            raise SlackError("bad_redirect_uri")
        found.used = True
        body = self._issue(app, found.team, found.scope, found.user, team_name)
        body["authed_user"] = {"id": found.user}
        return body

    def _refresh(
        self, app: OAuthApp, refresh_token: str, team_name: dict[str, str]
    ) -> dict[str, Any]:
        old = self._tokens.get(refresh_token)
        if old is None or old.kind != "refresh" or old.client_id != app.client_id or old.revoked:
            raise SlackError("invalid_refresh_token")
        old.revoked = True  # a refresh token is good for one exchange
        return self._issue(app, old.team, old.scope, old.user, team_name)

    def _issue(
        self, app: OAuthApp, team: str, scope: str, user: str | None, team_name: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "app_id": app.app_id,
            "scope": scope,
            "token_type": "bot",
            "bot_user_id": BOT_USER_ID,
            "team": {"id": team, "name": team_name.get(team, team)},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if app.token_rotation:
            access = Token(
                f"xoxe.xoxb-1-{secrets.token_hex(20)}",
                team,
                "bot",
                app.client_id,
                expires_at=time.time() + app.expires_in,
                scope=scope,
                user=user,
            )
            refresh = Token(
                f"xoxe-1-{secrets.token_hex(24)}", team, "refresh", app.client_id, scope=scope
            )
            refresh.user = user
            self._tokens[access.value] = access
            self._tokens[refresh.value] = refresh
            body.update(
                access_token=access.value,
                expires_in=app.expires_in,
                refresh_token=refresh.value,
            )
            return body
        # Without rotation, a reinstall gets the workspace's same bot token back.
        existing = next(
            (
                t
                for t in self._tokens.values()
                if t.team == team and t.client_id == app.client_id and t.kind == "bot"
                if not t.revoked
            ),
            None,
        )
        if existing is None:
            existing = Token(
                f"xoxb-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}",
                team,
                "bot",
                app.client_id,
                scope=scope,
                user=user,
            )
            self._tokens[existing.value] = existing
        body["access_token"] = existing.value
        return body


def _same_redirect(given: str, registered: str) -> bool:
    """Slack accepts a redirect URL at or below the registered one (same origin)."""
    a, b = urlsplit(given), urlsplit(registered)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc) and a.path.startswith(b.path)


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)
