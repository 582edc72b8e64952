"""Shared fixtures live in tests/fixtures/, one module per piece of the world we stand up.

Two tiers. A test is **e2e** when it stands up a server or a process (Redis, the fake
Slack, the sandbox on a socket, a browser, a ``rally-slack`` subprocess) or lives under
``tests/e2e``; everything else is the **unit** tier, which needs nothing running and is
what ``pytest -m "not e2e"`` runs in seconds.
"""

from __future__ import annotations

import os
import tempfile

import pytest

# A test that builds Settings without a DATABASE_URL of its own must never open (or
# create) the checkout's .data/rally-slack.db: one left by `rally-slack dev` at another
# revision would fail it. Fixtures that need a store set their own URL.
os.environ.setdefault(
    "DATABASE_URL",
    f"sqlite:///{tempfile.mkdtemp(prefix='rally-slack-tests-')}/default-store.db",
)

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.redis",
    "tests.fixtures.sandbox",
    "tests.fixtures.slack",
]

# Fixtures that stand up something outside the test's own process memory.
SERVER_FIXTURES = frozenset(
    {
        "redis_url",
        "redis_conn",
        "fake_slack",
        "fake_slack_server",
        "sandbox_url",
        "serve_app",
        "rally",
        "rally_settings",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            "e2e" in item.path.parts
            or fixtures & SERVER_FIXTURES
            or item.get_closest_marker("browser")
            or item.get_closest_marker("subprocess")
        ):
            item.add_marker(pytest.mark.e2e)
