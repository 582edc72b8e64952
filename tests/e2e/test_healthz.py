"""``GET /healthz`` names the dependency that is down (SPEC §9): Redis, or the database,
each reached through a TCP relay the test cuts, as a network partition would."""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.server import create_flask_app
from core.settings import Settings
from tests.fixtures.database import _POSTGRES_MISSING, POSTGRES


class Relay:
    """Forwards every connection on a loopback port to ``target``; :meth:`cut` drops all."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        # shutdown() first: a bare close() leaves the accept() under way listening.
        for s in (self.listener, *self.sockets):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_healthz_is_503_naming_redis_when_redis_does_not_answer(
    rally_settings: Settings,
) -> None:
    parts = urlsplit(rally_settings.redis_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 6379)
    relayed = parts._replace(netloc=f"127.0.0.1:{relay.port}").geturl()
    settings = rally_settings.model_copy(update={"redis_url": relayed})
    app = create_flask_app(settings).test_client()
    up = app.get("/healthz")
    assert (up.status_code, up.json) == (200, {"status": "ok", "redis": "ok", "database": "ok"})
    relay.cut()
    down = app.get("/healthz")
    assert down.status_code == 503
    assert down.json == {"status": "degraded", "redis": "down", "database": "ok"}


@pytest.fixture
def postgres_via_relay() -> Iterator[tuple[str, Relay]]:
    if _POSTGRES_MISSING:
        pytest.skip(_POSTGRES_MISSING)
    name = f"rally_test_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(POSTGRES)
    relay = Relay(base.host or "127.0.0.1", base.port or 5432)
    try:
        yield base.set(database=name, port=relay.port).render_as_string(False), relay
    finally:
        relay.cut()
        from core import store

        for key, opened in list(store._OPEN.items()):
            if key[1].endswith(name):
                opened.engine.dispose()
                del store._OPEN[key]
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_healthz_is_503_naming_the_database_when_it_does_not_answer(
    rally_settings: Settings, postgres_via_relay: tuple[str, Relay]
) -> None:
    database_url, relay = postgres_via_relay
    settings = rally_settings.model_copy(update={"database_url": database_url})
    app = create_flask_app(settings).test_client()
    assert app.get("/healthz").json == {"status": "ok", "redis": "ok", "database": "ok"}
    relay.cut()
    down = app.get("/healthz")
    assert down.status_code == 503
    assert down.json == {"status": "degraded", "redis": "ok", "database": "down"}
