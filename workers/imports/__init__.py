"""CSV import (SPEC §7): read a file, preview it, import its valid rows through the bulk
endpoint in chunks of at most 100, resumable after a crash.

- ``csv_file``: bytes → valid items and errors (no Slack, no Rally);
- ``progress``: the import kept in Redis (items, which chunks are done and their results);
- ``run``: the import itself, chunk by chunk, each with its own Idempotency-Key;
- ``slack``: the jobs behind a CSV shared in a DM with the app (download, preview, Import).
"""
