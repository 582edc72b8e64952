"""``rally-slack dev`` as a newcomer runs it: one command, the console answers, a slash
command typed there is logged by the stack's own worker, and Ctrl-C stops everything."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.redis import free_port
from tests.fixtures.sandbox import DEV_API_KEY

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
HAS_CRON = importlib.util.find_spec("workers.schedules") is not None


class Dev:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines[-80:])
        )

    def output(self) -> str:
        return "\n".join(self.lines)


def start_dev(tmp_path: Path, env: dict[str, str], *extra: str) -> Dev:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "cli",
        "dev",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    if not HAS_CRON:
        args.append("--no-cron")
    proc = subprocess.Popen(
        [*args, *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return Dev(proc)


@pytest.fixture
def stop() -> Iterator[list[Dev]]:
    running: list[Dev] = []
    yield running
    for dev in running:
        if dev.proc.poll() is None:
            os.killpg(dev.proc.pid, signal.SIGKILL)


def log_a_note(console: str, text: str) -> dict[str, Any]:
    httpx.post(
        f"{console}/send",
        json={"user": "U0ALICE", "channel": "C0SALES", "text": f"/rally note {text}"},
        timeout=10,
    ).raise_for_status()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = httpx.get(
            f"{console}/state", params={"user": "U0ALICE", "wait": 5}, timeout=10
        ).json()
        shown = [m["text"] for m in state["messages"]["C0SALES"]]
        if any(t.startswith("Logged note") for t in shown):
            return dict(state)
        time.sleep(0.1)
    raise AssertionError(f"no confirmation; shown: {shown}")


def test_dev_runs_the_whole_stack_and_stops_on_ctrl_c(
    tmp_path: Path, redis_url: str, stop: list[Dev]
) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "SLACK_BOT_TOKEN": "xoxb-should-be-ignored"}
    dev = start_dev(tmp_path, env)
    stop.append(dev)
    console = dev.wait_for_line(r"Console\s+(http://\S+/console)").group(1)
    sandbox = dev.wait_for_line(r"Sandbox API\s+(http://\S+)/api/v1").group(1)
    assert "(external)" in dev.wait_for_line(r"Redis\s+\S+\s+\(\w+\)").group(0)
    # The console is the first thing announced.
    announced = [line for line in dev.lines if "http://" in line and "dev |" in line]
    assert "Console" in announced[0]

    assert httpx.get(console + "/").status_code == 200
    assert httpx.get(console.replace("/console", "/healthz")).status_code == 200
    state = log_a_note(console, "Hello from dev")
    # The seeded channel binding was made through the bot's own /rally link.
    assert any("linked" in m["text"] for m in state["messages"]["C0ACME"])

    activities = httpx.get(
        f"{sandbox}/api/v1/activities", headers={"X-Api-Key": DEV_API_KEY}, params={"limit": 100}
    ).json()
    subjects = {a["subject"] for a in activities}
    assert "Hello from dev" in subjects
    assert "Send Acme the revised proposal" in subjects  # seeded
    assert (tmp_path / "data" / "sandbox.db").exists()

    os.killpg(dev.proc.pid, signal.SIGINT)
    assert dev.proc.wait(timeout=60) == 0, dev.output()[-3000:]
    assert "stopped" in dev.output()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{sandbox}/api/v1/activities", headers={"X-Api-Key": DEV_API_KEY}, timeout=2)


def test_dev_without_redis_uses_the_embedded_stand_in_and_says_so(
    tmp_path: Path, stop: list[Dev]
) -> None:
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "PATH": str(tmp_path)}
    dev = start_dev(tmp_path, env, "--no-seed")
    stop.append(dev)
    console = dev.wait_for_line(r"Console\s+(http://\S+/console)").group(1)
    assert "for trying out only" in dev.output().lower()
    assert "(embedded)" in dev.wait_for_line(r"Redis\s+\S+\s+\(\w+\)").group(0)
    log_a_note(console, "Works without Redis")
    dev.proc.send_signal(signal.SIGTERM)
    assert dev.proc.wait(timeout=60) == 0, dev.output()[-3000:]
