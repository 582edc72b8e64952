"""``rally-slack connect --team T --rally-url URL --api-key-file FILE``.

What an admin's Connect Rally form does, for operators: the host is checked against
``RALLY_ALLOWED_HOSTS`` before any request, the key is checked with one list call, stored
encrypted, and the tenant reached is printed. The key is read from a file (never from the
command line, where ``ps`` and shell history would keep it) and never printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.secrets import last4
from core.settings import load_settings
from workers.lifecycle import check_key
from workers.workspace import host_allowed, store_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--team", required=True, help="the Slack team id (T…)")
    parser.add_argument("--rally-url", required=True, help="the tenant's Rally address")
    parser.add_argument(
        "--api-key-file", required=True, type=Path, help="a file holding the API key, alone"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.encryption_keys():
        raise SystemExit("RALLY_SLACK_ENCRYPTION_KEYS is not set: a key cannot be stored safely")
    base_url = str(args.rally_url).strip().rstrip("/")
    if not host_allowed(settings, base_url):
        raise SystemExit(
            f"{base_url} is not an allowed Rally host: add its host to RALLY_ALLOWED_HOSTS"
        )
    try:
        key = args.api_key_file.read_text().strip()
    except OSError as exc:
        raise SystemExit(f"cannot read {args.api_key_file}: {exc.strerror}") from None
    if not key or any(ch.isspace() for ch in key):
        raise SystemExit(f"{args.api_key_file} must hold the API key alone, on one line")
    result = check_key(settings, base_url, key)
    if not result.ok:
        raise SystemExit(f"not connected: {result.detail}")
    store = store_of(settings)
    store.save_connection(args.team, base_url, key, by=None)
    store.set_connection_status(args.team, "ok", detail=result.detail, tenant_id=result.tenant_id)
    store.audit(args.team, None, "connected_workspace", surface="cli", host=base_url)
    tenant = f"tenant {result.tenant_id}" if result.tenant_id else "an empty tenant"
    print(f"team {args.team}: {result.detail} ({tenant}, key {last4(key)})")
    return 0
