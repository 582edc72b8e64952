"""Slack, faked at the network edge for tests, benchmarks and the console.

- :mod:`devstack.fake_slack.server` is the door: :class:`~devstack.fake_slack.server.FakeSlack`
  answers the Web API methods the app calls, records every call, and keeps one
  workspace's messages, modals and home tabs in memory. It is a thin, thread-safe front
  over the parts below, and every name tests import is importable from it.

  - :mod:`devstack.fake_slack.world`: the team's ids, its people and channels.
  - :mod:`devstack.fake_slack.messages`: channel messages, threads, ephemerals, edits.
  - :mod:`devstack.fake_slack.views`: modal stacks, Home tabs, trigger ids.
  - :mod:`devstack.fake_slack.response_urls`: response URLs and what was posted to them.
  - :mod:`devstack.fake_slack.failures`: ``SlackError`` and the scripted failures.
  - :mod:`devstack.fake_slack.web_api`: the method table, auth and the call log.
  - :mod:`devstack.fake_slack.routes`: the Flask blueprint that serves it all.

- :mod:`devstack.fake_slack.payloads` builds what Slack sends to the app (slash commands,
  interactivity payloads, events) and signs it the way Slack does.
- :mod:`devstack.fake_slack.blockkit` checks what the app sends against Block Kit.
- :mod:`devstack.fake_slack.socket_mode` speaks Socket Mode over a WebSocket.
"""
