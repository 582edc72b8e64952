"""``rally-slack sandbox`` as a real process: gunicorn (the default) and Flask's server."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sandbox.store import Store
from sandbox.tenants import DEV_API_KEY, tenant_for_key
from tests.fixtures.redis import free_port
from tests.sandbox.support import ACTIVITIES, note

pytestmark = pytest.mark.subprocess


def _command() -> list[str]:
    script = Path(sys.executable).with_name("rally-slack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


@contextmanager
def running_sandbox(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``rally-slack sandbox ARGS`` on a free port; yield its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [*_command(), "sandbox", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"sandbox did not start (exit {proc.returncode}):\n{output}")
            time.sleep(0.05)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=20)
    return output


def test_gunicorn_serves_the_api_with_the_dev_key(tmp_path: Path) -> None:
    db = tmp_path / "data" / "sandbox.db"
    with running_sandbox("--db", str(db), "--workers", "2", "--threads", "2") as (url, proc):
        with httpx.Client(base_url=url, headers={"X-Api-Key": DEV_API_KEY}) as http:
            created = http.post(ACTIVITIES, json=note("over gunicorn"))
            assert created.status_code == 201, created.text
            activity = created.json()
            assert activity["tenantId"] == tenant_for_key(DEV_API_KEY).tenant_id
            assert http.get(f"{ACTIVITIES}/{activity['id']}").json() == activity
            assert http.get(ACTIVITIES).json() == [activity]
        output = _stop(proc)
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{url.rsplit(':', 1)[1]}" in output
    assert DEV_API_KEY in output  # the documented development key is announced
    assert "gunicorn" in output.lower()
    assert Store(str(db)).count(tenant_for_key(DEV_API_KEY).tenant_id) == 1


def test_flask_server_and_given_keys_and_a_dropped_connection(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    keys = ["rk_test_first_not_a_real_key", "rk_test_second_not_a_real_key"]
    args = ["--db", str(db), "--server", "flask", "--drop-rate", "1", "--seed", "1"]
    for key in keys:
        args += ["--api-key", key]
    with running_sandbox(*args) as (url, proc):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{url}{ACTIVITIES}", json=note(), headers={"X-Api-Key": keys[1]})
        refused = httpx.get(f"{url}{ACTIVITIES}", headers={"X-Api-Key": DEV_API_KEY})
        assert refused.status_code == 401  # only the given keys, not the dev key
        output = _stop(proc)
    assert Store(str(db)).count(tenant_for_key(keys[1]).tenant_id) == 1  # committed, then dropped
    for key in keys:
        assert key not in output  # given keys are secrets: never echoed
        assert tenant_for_key(key).tenant_id in output


def test_gunicorn_drops_connections_after_committing(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    with (
        running_sandbox("--db", str(db), "--drop-rate", "1", "--workers", "1") as (url, _),
        pytest.raises(httpx.RemoteProtocolError),
    ):
        httpx.post(f"{url}{ACTIVITIES}", json=note(), headers={"X-Api-Key": DEV_API_KEY})
    assert Store(str(db)).count(tenant_for_key(DEV_API_KEY).tenant_id) == 1


def test_help_lists_every_flag() -> None:
    result = subprocess.run(
        [*_command(), "sandbox", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for flag in (
        "--host", "--port", "--db", "--api-key", "--latency-ms", "--fail-rate",
        "--rate-limit", "--throttle-rate", "--drop-rate", "--no-idempotency", "--seed", "--server", "--workers",
    ):  # fmt: skip
        assert flag in result.stdout
