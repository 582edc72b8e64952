"""Slack, faked at the network edge for tests, benchmarks and the console.

- :mod:`devstack.fake_slack.server` answers the Web API methods the app calls, records
  every call, and keeps one workspace's messages, modals and home tabs in memory.
- :mod:`devstack.fake_slack.payloads` builds what Slack sends to the app (slash commands,
  interactivity payloads, events) and signs it the way Slack does.
- :mod:`devstack.fake_slack.blockkit` checks what the app sends against Block Kit.
- :mod:`devstack.fake_slack.socket_mode` speaks Socket Mode over a WebSocket.
"""
