"""``rally-slack sandbox``: serve the local Activities API (gunicorn by default).

rally-slack sandbox                       # http://127.0.0.1:8080, key rk_dev_sandbox_local_key
rally-slack sandbox --api-key A --api-key B --port 9000
rally-slack sandbox --fail-rate 0.2 --latency-ms 50 --seed 7
rally-slack sandbox --fail-rate 0.2 --throttle-rate 0.03 --drop-rate 0.05 --no-idempotency
rally-slack sandbox --server flask        # Flask's development server instead
"""

from __future__ import annotations

import argparse
import os

from flask import Flask

from core.wsgi import GunicornServer, gthread_options
from sandbox.app import create_app
from sandbox.faults import Faults
from sandbox.store import Store
from sandbox.tenants import DEV_API_KEY, parse_key_spec, tenant_for_key

DEFAULT_DB = os.path.join(".data", "sandbox.db")


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _key_spec(text: str) -> str:
    try:
        parse_key_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's flags (SPEC §3 and §5)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default %(default)s)")
    parser.add_argument("--db", default=DEFAULT_DB, help="SQLite file (default %(default)s)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY[=TENANT:OWNER]",
        type=_key_spec,
        help=(
            "accepted X-Api-Key, repeatable: KEY is a tenant of its own; KEY=TENANT:OWNER "
            f"an owner of the tenant TENANT (names), shared with its other keys "
            f"(default {DEV_API_KEY})"
        ),
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--latency-ms", type=_non_negative, default=0, help="delay every request")
    faults.add_argument(
        "--fail-rate", type=_rate, default=0.0, help="share of requests answered 503"
    )
    faults.add_argument(
        "--rate-limit",
        type=_non_negative,
        default=0,
        metavar="N",
        help="requests per API key per second (per worker process) before 429s; 0 = none",
    )
    faults.add_argument(
        "--throttle-rate",
        type=_rate,
        default=0.0,
        help="share of requests answered 429 (Retry-After: 1), whatever the pace",
    )
    faults.add_argument(
        "--drop-rate",
        type=_rate,
        default=0.0,
        help="share of requests handled and committed, then dropped with no response",
    )
    faults.add_argument(
        "--no-idempotency", action="store_true", help="ignore Idempotency-Key headers"
    )
    faults.add_argument("--seed", type=int, default=None, help="seed of the random faults")
    server = parser.add_argument_group("server")
    server.add_argument("--server", choices=("gunicorn", "flask"), default="gunicorn")
    server.add_argument(
        "--workers",
        type=_positive,
        default=2,
        help="gunicorn worker processes (default %(default)s)",
    )
    server.add_argument(
        "--threads",
        type=_positive,
        default=4,
        help="threads per gunicorn worker (default %(default)s)",
    )


def faults_from_args(args: argparse.Namespace) -> Faults:
    """The :class:`Faults` the fault-injection flags ask for."""
    return Faults(
        latency_ms=args.latency_ms,
        fail_rate=args.fail_rate,
        rate_limit=args.rate_limit,
        throttle_rate=args.throttle_rate,
        drop_rate=args.drop_rate,
        idempotency=not args.no_idempotency,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    """Run the sandbox until interrupted; returns the exit status."""
    faults = faults_from_args(args)
    keys: list[str] = args.api_keys or [DEV_API_KEY]
    # Create the schema once, before any worker starts, so workers never race to do it.
    Store(args.db)

    def factory() -> Flask:
        return create_app(db_path=args.db, api_keys=keys, faults=faults)

    _announce(args, keys, faults)
    if args.server == "flask":
        from werkzeug.serving import run_simple

        run_simple(args.host, args.port, factory(), threaded=True)
        return 0
    options = gthread_options(
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        log_level=args.log_level,
        timeout=60,
        graceful_timeout=5,
        proc_name="rally-slack-sandbox",
    )
    # Built in each worker after the fork, so every worker opens its own SQLite connections.
    GunicornServer(factory, options).run()
    return 0


def _announce(args: argparse.Namespace, keys: list[str], faults: Faults) -> None:
    print(
        f"sandbox: Rally Activities API on http://{args.host}:{args.port} "
        f"(db {args.db}, {args.server}"
        + (
            f", {args.workers} workers x {args.threads} threads"
            if args.server == "gunicorn"
            else ""
        )
        + ")",
        flush=True,
    )
    print(f"sandbox: OpenAPI document at http://{args.host}:{args.port}/openapi.json", flush=True)
    if args.api_keys:
        for number, spec in enumerate(keys, 1):
            tenant = parse_key_spec(spec)[1]
            # The keys are the caller's secrets: name them by position, never echo them.
            print(
                f"sandbox: key #{number}: tenant {tenant.tenant_id}, owner {tenant.owner_id}",
                flush=True,
            )
    else:
        tenant = tenant_for_key(DEV_API_KEY)
        print(
            f"sandbox: development API key (not a secret): X-Api-Key: {DEV_API_KEY} "
            f"(tenant {tenant.tenant_id}, owner {tenant.owner_id})",
            flush=True,
        )
    if faults != Faults(seed=faults.seed):
        print(f"sandbox: injecting faults: {faults}", flush=True)
