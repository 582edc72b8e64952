"""Helpers shared by the benchmarks: free ports, subprocess servers, medians, tables.

Import it before the project's packages: it puts this checkout first on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# The checkout first: run as a script, a benchmark's folder is on the path but the root is
# not, and an editable install made before a package had its __init__ maps it as a namespace.
sys.path.insert(0, str(ROOT))

# One way to stand up a private redis-server (and find a free port), shared with the tests.
from devstack.local import free_port, redis_server  # noqa: E402

__all__ = [
    "RESULTS",
    "ROOT",
    "free_port",
    "kill_tree",
    "median",
    "percentile",
    "print_table",
    "process_tree",
    "rally_process",
    "redis_server",
    "save",
    "wait_http",
]


def wait_http(url: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def rally_process(
    args: Sequence[str], *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `rally-slack ARGS...` from this checkout's venv, stopping it afterwards."""
    exe = Path(sys.executable).with_name("rally-slack")
    proc = subprocess.Popen(
        [str(exe), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


def save(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, pgid) of every live process, from /proc."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid, pgid = stat.rsplit(")", 1)[1].split()[:3]
        if state not in ("Z", "X"):
            table[int(entry)] = (int(ppid), int(pgid))
    return table


def process_tree(root: int) -> dict[int, int]:
    """pid -> pgid of ``root`` and all its live descendants (as tests/e2e/test_worker_crash)."""
    table = _processes()
    found = {root: table[root][1]} if root in table else {}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, pgid) in table.items():
            if ppid in found and pid not in found:
                found[pid] = pgid
                grew = True
    return found


def kill_tree(root: int, sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` to every process group of ``root``'s tree: a ``rally-slack worker``'s own
    (supervisor, queue worker, scheduler) and each RQ work horse's, which RQ puts in a group
    of its own. Returns how many groups were signalled."""
    groups = set(process_tree(root).values())
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    return len(groups)
