"""``rally-slack dev``: the whole product on one machine, nothing to configure.

One supervised group, stopped cleanly by Ctrl-C:

- **Redis**: the one at ``REDIS_URL`` if it answers; else a ``redis-server`` from PATH on a
  free port (data in ``.data/``); else an embedded in-process stand-in (fakeredis), for
  trying out only.
- **sandbox**: the local Activities API (``rally-slack sandbox``), SQLite at
  ``.data/sandbox.db``, the development key, a few seeded records and activities.
- **web**: the bot (``POST /slack/events``, ``GET /healthz``) and, beside it, the Slack
  console at ``/console`` with the fake Slack Web API it plays (``/console/api/``). Both
  live in this process, so the page sees every call the bot makes.
- **worker** and **cron**: ``rally-slack worker`` and ``rally-slack cron``.

Everything is pointed at everything else (``SLACK_API_URL``, ``RALLY_BASE_URL``,
``REDIS_URL``...). Each part's log lines carry its name; a part that dies is reported and
restarted (a few times, then left down with a clear message).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import redis

# From the dev extra, and imported here rather than where used: so `rally-slack dev` from a
# plain install stops at once with cli's message naming the extra, instead of starting
# the stack (and failing only later, on a machine without redis-server).
from fakeredis import TcpFakeServer
from fakeredis._clients._tcp_server import TCPFakeRequestHandler

from devstack.console.app import (
    Console,
    create_console_app,
    messages_tab_read_only,
    read_manifest,
    shortcuts_from_manifest,
    steps_from_manifest,
    unfurl_domains,
)
from devstack.fake_slack.server import FakeSlack
from devstack.local import free_port

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from werkzeug.serving import BaseWSGIServer

    from core.settings import Settings

log = logging.getLogger("dev")

# Obviously fake credentials: the console signs with this secret, and the bot token is
# only ever shown to the console's fake Slack.
DEV_SIGNING_SECRET = "dev-signing-secret-not-real"
DEV_BOT_TOKEN = "xoxb-dev-not-a-real-token"
# rally-slack dev distributes the app with OAuth, as a Slack app listed for many
# workspaces would be: the console's fake Slack knows this client id and secret.
DEV_CLIENT_ID = "1000000001.2000000002"
DEV_CLIENT_SECRET = "dev-client-secret-not-real"
# The sandbox's tenants (SPEC §6): the dev workspace's tenant, where Alice and Bob have
# keys of their own (so what they log is theirs in Rally), and a second tenant for a
# second workspace installed from the console.
ALICE_DEV_KEY = "rk_dev_alice_own_key_not_real"
BOB_DEV_KEY = "rk_dev_bob_own_key_not_real"
SECOND_TENANT_KEY = "rk_dev_globex_workspace_key_not_real"
PERSONAL_KEYS = (("U0ALICE", ALICE_DEV_KEY), ("U0BOB", BOB_DEV_KEY))
MAX_RESTARTS = 5
_COLORS = {"web": 32, "worker": 33, "cron": 35, "sandbox": 36, "redis": 34, "dev": 1}


# --------------------------------------------------------------------------- output


class _Printer:
    """Prefixed, optionally coloured lines from many threads, never interleaved."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.color = stream.isatty() and not os.environ.get("NO_COLOR")
        self._lock = threading.Lock()

    def line(self, part: str, text: str) -> None:
        label = f"{part:>7} |"
        if self.color:
            label = f"\033[{_COLORS.get(part, 0)}m{label}\033[0m"
        with self._lock:
            self.stream.write(f"{label} {text.rstrip()}\n")
            self.stream.flush()


class _PrefixHandler(logging.Handler):
    """Log records of this process, printed under a part's name ("web" unless "dev")."""

    def __init__(self, printer: _Printer) -> None:
        super().__init__()
        self.printer = printer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            part = "dev" if record.name.startswith("dev") else "web"
            self.printer.line(
                part, f"{record.levelname.lower():<7} {record.name} {record.getMessage()}"
            )
        except Exception:  # a log line must never take the stack down
            self.handleError(record)


class _QuietPolling(logging.Filter):
    """Drop the access-log lines of the page's own polling and assets."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(
            path in message for path in ("/console/state", "/console/static", "GET /console/ ")
        )


# --------------------------------------------------------------------------- parts


def _answers(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def _wait(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(0.1)


@dataclass
class Part:
    """One supervised subprocess."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    restarts: int = 0
    started_at: float = 0.0
    given_up: bool = False


@dataclass
class Redis:
    """The Redis the stack uses, and how to stop it."""

    url: str
    kind: str  # "external" | "redis-server" | "embedded"
    stop: Callable[[], None] = lambda: None
    part: Part | None = None


@dataclass
class Stack:
    """The running group; :meth:`stop` takes it down in reverse order."""

    printer: _Printer
    parts: list[Part] = field(default_factory=list)
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    stopping: bool = False

    def spawn(self, part: Part) -> Part:
        """Start (or restart) ``part``, its output prefixed with its name."""
        part.proc = subprocess.Popen(
            part.argv,
            env=part.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            # Own session: the terminal's Ctrl-C reaches only us, and we stop the
            # children in order (workers finish their job before Redis goes away).
            start_new_session=True,
        )
        part.started_at = time.monotonic()
        if part not in self.parts:
            self.parts.append(part)
        proc = part.proc
        threading.Thread(
            target=self._pump, args=(part.name, proc.stdout), name=f"log-{part.name}", daemon=True
        ).start()
        return part

    def _pump(self, name: str, stream: Iterable[str] | None) -> None:
        for line in stream or ():
            self.printer.line(name, line)

    def check(self) -> None:
        """Report parts that died; restart them, a few times."""
        for part in self.parts:
            proc = part.proc
            if self.stopping or part.given_up or proc is None or proc.poll() is None:
                continue
            code = proc.returncode
            if time.monotonic() - part.started_at > 60:
                part.restarts = 0  # it ran fine for a while: a fresh budget
            if part.restarts >= MAX_RESTARTS:
                part.given_up = True
                self.printer.line(
                    "dev",
                    f"!! {part.name} exited with code {code} again; left DOWN after "
                    f"{MAX_RESTARTS} restarts (see its lines above). Ctrl-C to stop the rest.",
                )
                continue
            part.restarts += 1
            delay = min(2 ** (part.restarts - 1), 10)
            self.printer.line(
                "dev",
                f"!! {part.name} exited with code {code}; restarting in {delay}s "
                f"(restart {part.restarts}/{MAX_RESTARTS})",
            )
            time.sleep(delay)
            if not self.stopping:
                self.spawn(part)

    def stop(self) -> None:
        """Stop every part: cron and workers first (they finish their job), then the web
        app, the sandbox, and Redis last."""
        self.stopping = True
        self._terminate("cron", "worker")
        for stopper in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                stopper()
        self.stoppers.clear()
        self._terminate("sandbox")
        self._terminate("redis")

    def _terminate(self, *names: str) -> None:
        running = [p for p in self.parts if p.name in names and p.proc and p.proc.poll() is None]
        for part in running:
            assert part.proc is not None
            part.proc.terminate()
        for part in running:
            assert part.proc is not None
            try:
                part.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.printer.line("dev", f"{part.name} did not stop in 20s; killing it")
                part.proc.kill()
                part.proc.wait(timeout=5)


def start_redis(stack: Stack, data_dir: Path, env: dict[str, str]) -> Redis:
    """The Redis to use: ``REDIS_URL`` if it answers, else redis-server, else embedded."""
    url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    if _answers(url):
        return Redis(url, "external")
    server = shutil.which("redis-server")
    if server:
        port = free_port()
        part = Part(
            "redis",
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data_dir),
                # AOF keeps queued work across a restart of the stack, as in production.
                "--appendonly",
                "yes",
                "--appendfilename",
                "dev.aof",
                "--save",
                "",
            ],
            env,
        )
        stack.spawn(part)
        url = f"redis://127.0.0.1:{port}/0"
        _wait(lambda: _answers(url), "redis-server")
        return Redis(url, "redis-server", part=part)
    port = free_port()
    fake = _embedded_redis(port)
    thread = threading.Thread(target=fake.serve_forever, name="embedded-redis", daemon=True)
    thread.start()
    url = f"redis://127.0.0.1:{port}/0"
    _wait(lambda: _answers(url), "embedded Redis")

    def stop() -> None:
        fake.shutdown()
        fake.server_close()

    return Redis(url, "embedded", stop=stop)


def _embedded_redis(port: int) -> Any:
    """fakeredis's TCP server, reporting client addresses as Redis does.

    fakeredis 2.41 answers ``CLIENT INFO`` with ``addr=('127.0.0.1', 5000)``, which
    redis-py cannot parse, and RQ asks for it when a worker starts.
    """

    class Handler(TCPFakeRequestHandler):
        def setup(self) -> None:
            super().setup()
            info = getattr(self.current_client, "_client_info", None)
            if not isinstance(info, dict):
                return
            for key in ("addr", "laddr"):
                value = info.get(key)
                if isinstance(value, tuple):
                    info[key] = f"{value[0]}:{value[1]}"

    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = Handler
    # Connections still open at shutdown (the web app's pool) must not hold the exit.
    server.daemon_threads = True
    server.block_on_close = False
    return server


# --------------------------------------------------------------------------- web


def combine(bot_app: WSGIApplication, console_app: WSGIApplication) -> WSGIApplication:
    """The bot at the root, the console (and its fake Slack) under ``/console``."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    dispatcher = DispatcherMiddleware(bot_app, {"/console": console_app})

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/favicon.ico":
            start_response("204 No Content", [])
            return [b""]
        if path in ("", "/", "/console"):
            start_response("302 Found", [("Location", "/console/"), ("Content-Length", "0")])
            return [b""]
        return dispatcher(environ, start_response)

    return app


class _Slot:
    """A WSGI app filled in after the server is bound (the bot needs the port first)."""

    def __init__(self) -> None:
        self.app: WSGIApplication | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting\n"]
        return self.app(environ, start_response)


def bind_web(host: str, port: int) -> tuple[BaseWSGIServer, _Slot]:
    """Bind the web server now, so its URL is known before the bot is built."""
    from werkzeug.serving import make_server

    slot = _Slot()
    server = make_server(host, port, slot, threaded=True)
    return server, slot


def dev_settings(env: dict[str, str]) -> Settings:
    """The settings of every part, from ``env``: OAuth distribution when it names a
    client id, else one workspace on ``SLACK_BOT_TOKEN``."""
    from pydantic import SecretStr

    from core.settings import Settings

    fields: dict[str, Any] = {
        "slack_signing_secret": SecretStr(env["SLACK_SIGNING_SECRET"]),
        "slack_api_url": env["SLACK_API_URL"],
        "rally_app_url": env.get("RALLY_APP_URL") or None,
        "redis_url": env["REDIS_URL"],
        "reminder_lead_minutes": int(env.get("REMINDER_LEAD_MINUTES", "15")),
    }
    # Every field of the other mode is set too (to None): Settings would otherwise read
    # it from this process's environment, which is the developer's.
    if env.get("SLACK_CLIENT_ID"):
        fields.update(
            slack_client_id=env["SLACK_CLIENT_ID"],
            slack_client_secret=SecretStr(env["SLACK_CLIENT_SECRET"]),
            slack_bot_token=None,
            rally_base_url=None,
            rally_api_key=None,
        )
    else:
        fields.update(
            slack_bot_token=SecretStr(env["SLACK_BOT_TOKEN"]),
            slack_client_id=None,
            slack_client_secret=None,
            rally_base_url=env["RALLY_BASE_URL"],
            rally_api_key=SecretStr(env["RALLY_API_KEY"]),
        )
    for name in ("DATABASE_URL", "RALLY_ALLOWED_HOSTS"):
        if env.get(name):
            fields[name.lower()] = env[name]
    if env.get("RALLY_SLACK_ENCRYPTION_KEYS"):
        fields["rally_slack_encryption_keys"] = SecretStr(env["RALLY_SLACK_ENCRYPTION_KEYS"])
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


def build_web(
    origin: str, env: dict[str, str], *, manifest: str = "manifest.yml"
) -> tuple[WSGIApplication, Console]:
    """The bot (configured from ``env``) beside the console, both on ``origin``.

    With ``SLACK_CLIENT_ID`` in ``env`` the bot is distributed with OAuth and the
    console's fake Slack knows the app (its client id and secret, its redirect URL on
    this origin), so any of its workspaces can install it (:func:`install`).
    """
    from bot.server import create_flask_app

    fake = FakeSlack(bot_token=DEV_BOT_TOKEN, base_url=f"{origin}/console")
    fake.permalink_base = f"{origin}/console"
    settings = dev_settings(env)
    if settings.distributed:
        # A path: the browser comes back to whichever host name it used for the console.
        fake.register_app(
            env["SLACK_CLIENT_ID"],
            env["SLACK_CLIENT_SECRET"],
            redirect_uri="/slack/oauth_redirect",
        )
    declared = read_manifest(manifest)
    console = Console(
        fake,
        events_url=f"{origin}/slack/events",
        signing_secret=DEV_SIGNING_SECRET,
        shortcuts=shortcuts_from_manifest(manifest),
        messages_tab_read_only=messages_tab_read_only(declared),
        steps=steps_from_manifest(declared),
        unfurl_domains=unfurl_domains(declared, env.get("RALLY_APP_URL")),
        oauth=settings.distributed,
    )
    bot = create_flask_app(settings)
    return combine(bot.wsgi_app, create_console_app(console).wsgi_app), console


def install(origin: str, team: str) -> None:
    """Install the app into ``team`` as its admin would, through the bot's own
    ``/slack/install`` (state cookie and all), the console's consent page and the bot's
    ``/slack/oauth_redirect``.

    Raises:
        RuntimeError: a step did not answer as it should.
    """
    with httpx.Client(base_url=origin, timeout=10.0) as browser:
        page = browser.get("/slack/install", params={"team": team})
        found = re.search(r'href="([^"]*/oauth/v2/authorize[^"]*)"', page.text)
        if page.status_code != 200 or found is None:
            raise RuntimeError(f"/slack/install answered {page.status_code}")
        consent = browser.get(html.unescape(found[1]))
        fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
        action = re.search(r"<form method='post' action='([^']+)'", consent.text)
        if consent.status_code != 200 or action is None:
            raise RuntimeError(f"the consent page answered {consent.status_code}")
        form = {k: html.unescape(v) for k, v in fields.items()}
        allowed = browser.post(action[1], data={**form, "team": team, "decision": "allow"})
        if allowed.status_code != 302:
            raise RuntimeError(f"the consent page refused: {allowed.text}")
        # Bolt's state cookie is Secure: a browser sends it to http://localhost, httpx
        # only over https, so it goes back by hand, as the browser would send it.
        cookie = page.headers.get("set-cookie", "").split(";", 1)[0]
        back = browser.get(allowed.headers["location"], headers={"Cookie": cookie})
        if back.status_code != 200:
            raise RuntimeError(f"/slack/oauth_redirect answered {back.status_code}")


# --------------------------------------------------------------------------- main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``rally-slack dev``'s options."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface for the web app (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "3000")),
        help="web port (default $PORT or 3000; 0 picks a free one)",
    )
    parser.add_argument("--data-dir", default=".data", help="where the sandbox and Redis keep data")
    parser.add_argument("--no-seed", action="store_true", help="start with an empty sandbox")
    parser.add_argument("--no-cron", action="store_true", help="do not run the cron scheduler")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def _upgrade_store(env: dict[str, str], printer: _Printer) -> None:
    """Bring a store an earlier version left at an older revision up to date (dev only:
    in production ``rally-slack db upgrade`` runs on purpose, before new processes)."""
    from core.settings import Settings
    from core.store import engine_for
    from core.store.migrate import upgrade

    url = env.get("DATABASE_URL") or Settings.model_fields["database_url"].default
    before, after = upgrade(engine_for(url))
    if before is not None and before != after:
        printer.line("dev", f"migrated the store from revision {before} to {after}")


def run(args: argparse.Namespace) -> int:
    """``rally-slack dev``: the whole product on one machine (sandbox, Redis, web + Slack
    console, worker, cron), until Ctrl-C."""
    printer = _Printer(sys.stdout)
    root = logging.getLogger()
    root.handlers[:] = [_PrefixHandler(printer)]
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").addFilter(_QuietPolling())
    # The access log already shows each request; httpx would say it twice.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(printer)
    stop_event = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop_event.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RALLY_"))}
    base_env["PYTHONUNBUFFERED"] = "1"
    try:
        server, slot = bind_web(args.host, args.port)
    except OSError as exc:
        printer.line("dev", f"cannot listen on {args.host}:{args.port} ({exc}); try --port N")
        return 2
    host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "localhost") else args.host
    origin = f"http://{host}:{server.server_port}"
    local = f"http://127.0.0.1:{server.server_port}"
    try:
        redis_ = start_redis(stack, data_dir, base_env)
        stack.stoppers.append(redis_.stop)
        if redis_.kind == "embedded":
            printer.line(
                "redis",
                "no Redis at REDIS_URL and no redis-server on PATH: using an embedded "
                "in-process stand-in (fakeredis). For trying out only: nothing survives a "
                "restart. Install redis-server for real use.",
            )
        sandbox_port = free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        from sandbox.tenants import DEV_API_KEY

        env = {
            **base_env,
            "SLACK_SIGNING_SECRET": DEV_SIGNING_SECRET,
            "SLACK_CLIENT_ID": DEV_CLIENT_ID,
            "SLACK_CLIENT_SECRET": DEV_CLIENT_SECRET,
            "SLACK_API_URL": f"{local}/console/api/",
            "DATABASE_URL": f"sqlite:///{data_dir / 'rally-slack.db'}",
            "RALLY_SLACK_ENCRYPTION_KEYS": _encryption_key(data_dir),
            "RALLY_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "REDIS_URL": redis_.url,
        }
        for passthrough in ("RALLY_APP_URL", "REMINDER_LEAD_MINUTES"):
            if os.environ.get(passthrough):
                env[passthrough] = os.environ[passthrough]
        stack.spawn(
            Part(
                "sandbox",
                _cli(
                    "sandbox",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(sandbox_port),
                    "--db",
                    str(data_dir / "sandbox.db"),
                    *_sandbox_keys(),
                ),
                env,
            )
        )
        _wait(lambda: _http_ok(f"{sandbox_url}/api/v1/activities?limit=1", DEV_API_KEY), "sandbox")
        if not args.no_seed:
            from devstack.seed import seed_sandbox

            created = seed_sandbox(sandbox_url, DEV_API_KEY)
            if created:
                printer.line("dev", f"seeded the sandbox with {created} activities")

        _upgrade_store(env, printer)
        web_app, console = build_web(local, env)
        slot.app = web_app
        web_thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
        web_thread.start()
        stack.stoppers.append(server.shutdown)
        _wait(lambda: _http_ok(f"{local}/healthz"), "web")

        stack.spawn(Part("worker", _cli("worker"), env))
        if not args.no_cron:
            stack.spawn(Part("cron", _cli("cron"), env))
        _set_up_dev_workspace(local, env, sandbox_url, data_dir, printer)
        _link_seeded_channels(console, printer)
        _announce(printer, origin, sandbox_url, redis_, DEV_API_KEY, cron=not args.no_cron)

        while not stop_event.wait(0.5):
            stack.check()
    except Exception as exc:  # report, then stop whatever did start
        printer.line("dev", f"!! the stack could not start: {exc}")
        log.debug("dev.start_failed", exc_info=True)
        stack.stop()
        return 1
    printer.line("dev", "stopping (Ctrl-C)…")
    stack.stop()
    printer.line("dev", "stopped")
    return 0


def _http_ok(url: str, api_key: str | None = None) -> bool:
    try:
        headers = {"X-Api-Key": api_key} if api_key else {}
        return httpx.get(url, headers=headers, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _encryption_key(data_dir: Path) -> str:
    """The dev stack's Fernet key, made once and kept beside its data (what it encrypts
    lives there too): a restart must still read what was stored."""
    from core.secrets import new_key

    path = data_dir / "encryption.key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(new_key() + "\n")
    return path.read_text().strip()


def _sandbox_keys() -> list[str]:
    """``--api-key`` for each key of the sandbox: the dev tenant's workspace key and
    Alice's and Bob's own (three owners of one tenant), and a second tenant's key."""
    from sandbox.tenants import DEV_API_KEY

    specs = [f"{DEV_API_KEY}=dev:workspace"]
    specs += [f"{key}=dev:{user.removeprefix('U0').lower()}" for user, key in PERSONAL_KEYS]
    specs.append(f"{SECOND_TENANT_KEY}=globex:workspace")
    return [arg for spec in specs for arg in ("--api-key", spec)]


def _set_up_dev_workspace(
    origin: str, env: dict[str, str], sandbox_url: str, data_dir: Path, printer: _Printer
) -> None:
    """What a new customer's admin does once: install the app into the dev workspace
    (OAuth, through the console's consent page), connect it to the sandbox's dev tenant
    (``rally-slack connect``), and Alice and Bob each keep their own Rally key."""
    from devstack.fake_slack.server import TEAM_ID
    from sandbox.tenants import DEV_API_KEY
    from workers.lifecycle import check_key
    from workers.workspace import store_of

    # Every start: the fake Slack's tokens live in memory, so last run's are gone.
    install(origin, TEAM_ID)
    key_file = data_dir / "dev-workspace.key"
    key_file.write_text(DEV_API_KEY + "\n")
    connect = _cli(
        "connect", "--team", TEAM_ID, "--rally-url", sandbox_url, "--api-key-file", str(key_file)
    )
    done = subprocess.run(connect, env=env, capture_output=True, text=True, timeout=60)
    for line in (done.stdout + done.stderr).splitlines():
        printer.line("dev", line)
    if done.returncode != 0:
        raise RuntimeError("could not connect the dev workspace to the sandbox")
    settings = dev_settings(env)
    store = store_of(settings)
    for user, key in PERSONAL_KEYS:
        store.save_personal_key(TEAM_ID, user, key)
        result = check_key(settings, sandbox_url, key)
        store.set_personal_key_status(
            TEAM_ID, user, "ok" if result.ok else "failed", detail=result.detail
        )


def _link_seeded_channels(console: Console, printer: _Printer) -> None:
    """Bind the seeded deal's channel, and name the seeded records, through the bot's own
    ``/rally link`` and ``/rally name`` (the names in Alice's DM with the app)."""
    from devstack.seed import LINKS, NAMED

    for channel, record in LINKS:
        text = f'link {record.kind} {record.id} "{record.name}"'
        result = console.slash_command("U0ALICE", channel, text)
        if not result.get("ok"):
            printer.line("dev", f"could not link #{channel} to {record.name}: {result}")
    for record in NAMED:
        text = f'name {record.kind} {record.id} "{record.name}"'
        result = console.slash_command("U0ALICE", "D0ALICE", text)
        if not result.get("ok"):
            printer.line("dev", f"could not name {record.name}: {result}")


def _announce(
    printer: _Printer, origin: str, sandbox_url: str, redis_: Redis, api_key: str, *, cron: bool
) -> None:
    lines = [
        "",
        "Rally for Slack is running locally.",
        f"  Console      {origin}/console        <- open this in a browser",
        f"  Slack events {origin}/slack/events   (signed with the dev secret)",
        f"  Fake Slack   {origin}/console/api/   (SLACK_API_URL of every part)",
        f"  Health       {origin}/healthz",
        f"  Sandbox API  {sandbox_url}/api/v1/activities   (X-Api-Key: {api_key})",
        "  People       Alice and Bob log with their own Rally keys (owners alice, bob);"
        " everyone else with the workspace's",
        f"  2nd tenant   {sandbox_url}   (X-Api-Key: {SECOND_TENANT_KEY}): add a workspace"
        " in the console, then Connect Rally on its Home",
        f"  Redis        {redis_.url}   ({redis_.kind})",
        f'  Worker{" and cron" if cron else ""} running. Try: /rally help, /rally task Call Acme due:"in 20 minutes"',
        "  A fresh sandbox has an Acme task coming due: its reminder arrives in #deal-acme in a few minutes.",
        "  Ctrl-C stops everything.",
        "",
    ]
    for line in lines:
        printer.line("dev", line)
