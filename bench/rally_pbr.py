"""``rally-slack web``'s app with Bolt's ``process_before_response=True``, for bench_ack.

Served like ``bare_bolt`` (``gunicorn 'rally_pbr:app'`` from this folder, same worker
class, workers and threads); the configuration is read from the environment as ``web``
reads it.
"""

from __future__ import annotations

from bot.server import create_flask_app
from core.settings import load_settings

app = create_flask_app(load_settings(), process_before_response=True)
