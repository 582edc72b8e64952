"""Prometheus metrics (SPEC §9): the series every process records, and how they are served.

Every series is defined here, with labels, so that no value exists before
:func:`enable` has chosen where values live. Without ``--metrics-port`` they stay in the
process's memory, unserved. With it, the process tree runs in prometheus_client's
multiprocess mode: each process writes its values to files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, or a private temporary one), and the endpoint adds them
up, so ``/metrics`` is right across gunicorn's workers and the worker's per-queue
processes.

RQ forks a work horse per job, and a file per pid would pile up by the thousand. Work
horses therefore write under their worker's identity plus ``h`` (:func:`become_work_horse`):
one worker runs one horse at a time, so no two live processes ever share a file, which is
the one rule prometheus_client sets for a process identifier.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

NAMESPACE: Final = "rally_slack"
# What Slack sends (bot.server.request_kind names each).
KINDS: Final = ("command", "action", "view", "event", "shortcut", "options", "unknown")

REQUESTS = Counter(
    "requests",
    "Requests at POST /slack/events, by kind and HTTP status",
    ["kind", "status"],
    namespace=NAMESPACE,
)
ACK_SECONDS = Histogram(
    "ack_seconds",
    "Time from a Slack request's arrival to its answer (the acknowledgement), by kind",
    ["kind"],
    namespace=NAMESPACE,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
JOBS = Counter(
    "jobs",
    "RQ jobs run, by queue and outcome (finished, failed, retried, stopped)",
    ["queue", "outcome"],
    namespace=NAMESPACE,
)
JOB_SECONDS = Histogram(
    "job_seconds",
    "Wall time of one job, fork to outcome, by queue",
    ["queue"],
    namespace=NAMESPACE,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
RALLY_REQUESTS = Counter(
    "rally_requests",
    "HTTP responses from the Activities API, by tenant host, method and status",
    ["tenant", "method", "status"],
    namespace=NAMESPACE,
)
BATCH_ITEMS = Histogram(
    "batch_items",
    "Items per coalesced batch, by kind (create: one bulk request; tell: one message)",
    ["kind"],
    namespace=NAMESPACE,
    buckets=(1, 2, 5, 10, 25, 50, 100),
)
TENANT_PAUSES = Counter(
    "tenant_pauses",
    "Times a tenant's creates were paused for a 429 (its Retry-After), by tenant",
    ["tenant"],
    namespace=NAMESPACE,
)
RALLY_SECONDS = Histogram(
    "rally_request_seconds",
    "Time to each Activities API response (one attempt), by tenant host",
    ["tenant"],
    namespace=NAMESPACE,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_state: dict[str, object] = {"horse_of": None, "own_dir": None, "owner_pid": None}


def _process_identifier() -> str:
    horse_of = _state["horse_of"]
    return f"{horse_of}h" if horse_of else str(os.getpid())


def enabled() -> bool:
    """Whether :func:`enable` has put this process tree in multiprocess mode."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR")) and getattr(
        values.ValueClass, "_multiprocess", False
    )


def enable() -> str:
    """Put this process (and what it forks afterwards) in multiprocess mode.

    Call once, in the parent, before anything records a value or forks. Uses
    ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it (emptied here: it must be one
    process tree's alone), else a private temporary directory removed at :func:`disable`.

    Returns:
        The directory.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)
    else:
        directory = tempfile.mkdtemp(prefix="rally-slack-metrics-")
        _state["own_dir"] = directory
        _state["owner_pid"] = os.getpid()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)  # type: ignore[no-untyped-call]
    return directory


def disable() -> None:
    """Remove the private directory :func:`enable` made (at the parent's exit).

    Only in the process that made it: a gunicorn worker leaves by raising ``SystemExit``
    through the master's stack, which it was forked from.
    """
    own = _state["own_dir"]
    if isinstance(own, str) and _state["owner_pid"] == os.getpid():
        shutil.rmtree(own, ignore_errors=True)
        _state["own_dir"] = None


def become_work_horse() -> None:
    """In an RQ work horse, first thing: write under the worker's identity (module doc)."""
    _state["horse_of"] = os.getppid()


def mark_process_dead(pid: int) -> None:
    """A child of this tree exited (gunicorn's ``child_exit``, the worker's supervisor)."""
    if enabled():
        for identity in (pid, f"{pid}h"):
            multiprocess.mark_process_dead(identity)  # type: ignore[no-untyped-call]


def registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """What a scrape reads: every process's files, plus collectors read at scrape time."""
    reg = CollectorRegistry()
    multiprocess.MultiProcessCollector(reg)  # type: ignore[no-untyped-call]
    for collector in extra:
        reg.register(collector)
    return reg


def serve(port: int, host: str, extra: Iterable[Collector] = ()) -> None:
    """Serve ``GET /metrics`` on ``host:port`` from a daemon thread of this process.

    Not signature-checked (Prometheus cannot sign): only on the interface the operator
    chose, never on the public port.

    Raises:
        SystemExit: the port cannot be bound (in use, or not allowed), saying which.
    """
    try:
        start_http_server(port, addr=host, registry=registry(extra))
    except OSError as exc:
        disable()
        raise SystemExit(f"--metrics-port {port} on {host}: {exc.strerror or exc}") from None
    log.info("event=metrics_serving host=%s port=%d", host, port)


def add_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--metrics-port`` and ``--metrics-host`` (``rally-slack web`` and ``worker``)."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help=f"serve GET /metrics ({what}) on this port; off by default",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="interface of the metrics port (default 127.0.0.1: it is not authenticated)",
    )
