"""Local services for development, tests and benchmarks: free ports and a private Redis.

``rally-slack dev``, the test fixtures and the benchmarks all stand up the same things;
this is the one place that knows how.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, deadline_s: float = 10.0) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def redis_server(workdir: Path, *options: str) -> Iterator[str]:
    """A private ``redis-server`` on a free loopback port, without persistence; yields its URL.

    Shared with the benchmarks (``bench/_common.py``), which stand up the same server.

    Args:
        workdir: Its working directory.
        options: More ``redis-server`` options (later ones win), e.g.
            ``"--appendonly", "yes"``.
    """
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server is not on PATH")
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for(url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
