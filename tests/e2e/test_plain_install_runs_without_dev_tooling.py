"""A plain install, as production makes one, carries no dev tooling and still runs.

Built for real, once for the module: a fresh venv in tmp (no system site-packages),
``pip install --require-hashes -r requirements.lock``, then ``pip install --no-deps`` of a
copy of this checkout (a copy, so the build leaves nothing in the checkout). pip's cache
is used; PyPI has to answer, and the tests are skipped, saying so, when it cannot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.redis import free_port

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY_MODULES = ("fakeredis", "flask_sock", "yaml")
PRODUCT_COMMANDS = ("web", "socket", "worker", "cron", "remind", "sandbox")
PRODUCT_PACKAGES = ("api_client", "core", "slack_ui", "bot", "workers", "sandbox", "cli")
INDEX_URL = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/")
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".data", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis", "results",
)  # fmt: skip

IMPORT_EVERY_PRODUCT_MODULE = """
import pkgutil, sys
from importlib import import_module
for package in sys.argv[1:]:
    root = import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        if not module.name.endswith(".__main__"):
            import_module(module.name)
print(" ".join(sorted(sys.modules)))
"""


def _index_unreachable() -> str | None:
    try:
        httpx.get(f"{INDEX_URL.rstrip('/')}/pip/", timeout=15, follow_redirects=True)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class PlainInstall:
    """The venv, and how to run things in it the way a user's shell would."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.bin = home / "venv" / "bin"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        # Nothing run here may reach a Redis that holds anyone's data.
        env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
        self.env = env

    def run(
        self, *args: str | Path, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` from outside the checkout (so nothing is imported from it)."""
        proc = subprocess.Popen(
            [str(a) for a in args],
            cwd=self.home,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out, err = _stop(proc)
            pytest.fail(f"{' '.join(map(str, args))} still running after {timeout}s:\n{out}{err}")
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and result.returncode != 0:
            pytest.fail(f"{' '.join(map(str, args))} exited {result.returncode}:\n{out}{err}")
        return result


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM first: a ``rally-slack dev`` that did start stops the parts it runs in
    sessions of their own, which a SIGKILL would leave running."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> PlainInstall:
    unreachable = _index_unreachable()
    if unreachable:
        pytest.skip(f"PyPI cannot be reached at {INDEX_URL} ({unreachable})")
    home = tmp_path_factory.mktemp("plain-install")
    checkout = home / "checkout"
    shutil.copytree(ROOT, checkout, ignore=NOT_SOURCE)
    plain = PlainInstall(home)
    plain.run(sys.executable, "-m", "venv", home / "venv")
    python = plain.bin / "python"
    lock = checkout / "requirements.lock"
    plain.run(python, "-m", "pip", "install", "-q", "--require-hashes", "-r", lock, timeout=480)
    plain.run(python, "-m", "pip", "install", "-q", "--no-deps", checkout, timeout=240)
    plain.run(python, "-m", "pip", "check")  # the lock holds all pyproject.toml asks for
    return plain


def test_the_dev_only_packages_are_not_installed(plain: PlainInstall) -> None:
    for name in DEV_ONLY_MODULES:
        result = plain.run(plain.bin / "python", "-c", f"import {name}", check=False)
        assert result.returncode != 0, f"import {name} succeeded in a plain install"
        assert f"No module named '{name}'" in result.stderr


def test_every_product_module_imports_without_devstack(plain: PlainInstall) -> None:
    result = plain.run(plain.bin / "python", "-c", IMPORT_EVERY_PRODUCT_MODULE, *PRODUCT_PACKAGES)
    loaded = set(result.stdout.split())
    assert "bot.server" in loaded and "workers.schedules" in loaded  # the walk did walk
    assert {"devstack", *DEV_ONLY_MODULES} & loaded == set()


@pytest.mark.parametrize("command", PRODUCT_COMMANDS)
def test_each_product_command_runs(plain: PlainInstall, command: str) -> None:
    result = plain.run(plain.bin / "rally-slack", command, "--help")
    assert result.stdout.startswith(f"usage: rally-slack {command}")


def test_the_sandbox_serves_its_openapi_document(plain: PlainInstall) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    log = plain.home / "sandbox.log"
    with log.open("w") as output:
        proc = subprocess.Popen(
            [str(plain.bin / "rally-slack"), "sandbox", "--port", url.rsplit(":", 1)[1]],
            cwd=plain.home,
            env=plain.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        response = None
        while response is None:
            try:
                response = httpx.get(f"{url}/openapi.json", timeout=2)
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the sandbox did not answer (exit {proc.poll()}):\n{log.read_text()}"
                    )
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["openapi"].startswith("3.1")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_dev_refuses_naming_the_dev_extra(plain: PlainInstall) -> None:
    result = plain.run(plain.bin / "rally-slack", "dev", timeout=60, check=False)
    assert result.returncode != 0
    assert "needs the dev extra" in result.stderr
    assert ".[dev]" in result.stderr
