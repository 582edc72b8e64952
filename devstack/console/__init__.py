"""The browser console: a page that plays Slack for one workspace, on the fake Slack.

Everything it does goes through the bot's real door (signed requests to
``/slack/events``); the bot's Web API calls come back to the fake Slack it shows.
"""
