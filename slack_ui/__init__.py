"""What Slack shows: every Slack id and every Block Kit builder, and the mrkdwn helpers.

Used by both ``bot`` (what a request answers) and ``workers`` (what a job posts); imports
nothing of ours but ``api_client.models`` and ``core``. Builders return ``slack_sdk.models``
objects from plain data; ``.to_dict()`` happens at the edge.
"""
