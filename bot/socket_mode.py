"""``rally-slack socket``: the same app over Socket Mode (no public URL needed)."""

from __future__ import annotations

import argparse
import logging
import sys

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import create_app
from workers.settings import Settings


def socket_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rally-slack socket`` (needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN)."""
    parser = argparse.ArgumentParser(prog="rally-slack socket", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    settings = Settings()
    settings.require("slack_app_token", "slack_bot_token")
    assert settings.slack_app_token is not None
    app = create_app(settings)
    SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()  # type: ignore[no-untyped-call]
    return 0


main = socket_main
