"""Listeners called directly, as bolt-python's starter template tests them: ``Mock(Ack)``,
a Bolt context holding our services on an in-memory Redis, a mock Web API client.
No server runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import Mock

import fakeredis
import pytest
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.services import CONTEXT_KEY, Services
from core.settings import Settings
from core.store import open_store
from tests.fixtures.database import TEST_KEYS

TEAM, USER, CHANNEL = "T0UNIT", "U0ALICE", "C0SALES"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        rally_slack_encryption_keys=TEST_KEYS[0],
        slack_signing_secret="unit-test-secret-not-real",
        slack_bot_token="xoxb-unit-test-not-real",
        rally_base_url="https://acme.rallycrm.io",
        rally_api_key="rk_unit_test_not_real",
        rally_app_url="https://app.rally.test",
    )


@pytest.fixture
def services(settings: Settings) -> Services:
    return Services(
        settings=settings,
        conn=fakeredis.FakeRedis(),
        store=open_store(settings.database_url, settings.encryption_keys()),
    )


@pytest.fixture
def context(services: Services) -> BoltContext:
    return BoltContext(
        {"team_id": TEAM, "user_id": USER, "channel_id": CHANNEL, CONTEXT_KEY: services}
    )


@pytest.fixture
def ack() -> Mock:
    return Mock(Ack)


@pytest.fixture
def client() -> Mock:
    web = Mock(WebClient)
    web.token = "xoxb-unit-test-not-real"
    web.users_info.return_value = {"user": {"tz": "America/New_York", "is_admin": False}}
    web.views_open.return_value = {"ok": True, "view": {"id": "V1"}}
    web.chat_getPermalink.return_value = {"permalink": "https://slack.test/archives/C0SALES/p1"}
    return web


def acked(ack: Mock) -> dict[str, Any]:
    """The keyword arguments of the one ``ack()`` call."""
    ack.assert_called_once()
    args, kwargs = ack.call_args
    return {"text": args[0], **kwargs} if args else dict(kwargs)
