"""Slack, played locally: a faithful fake of the Web API and a browser console on top of it.

- :mod:`bot.console.fake_slack` answers the Web API methods the bot and the workers call,
  records every call, and keeps one workspace's messages, modals and home tabs in memory.
- :mod:`bot.console.payloads` builds what Slack sends to the app (slash commands,
  interactivity payloads, events) and signs it the way Slack does.

The tests use both at the network edge (``SLACK_API_URL`` pointed at the fake, signed
requests to ``/slack/events``); ``rally-slack dev`` serves them with the console page.
"""
