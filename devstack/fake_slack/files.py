"""Files: what a person shares, and what the app uploads, as Slack keeps them.

- A person shares a file (:meth:`FileStore.share`): it gets an id, ``url_private`` and
  ``url_private_download`` under the fake's ``/files-pri/`` path, which answer the bytes
  only to ``Authorization: Bearer <bot token>`` (anything else is Slack's 302 to a login
  page); ``files.info`` describes it.
- The app uploads (what ``WebClient.files_upload_v2`` does): ``files.getUploadURLExternal``
  hands out an upload URL (``/upload/<id>``), the bytes are POSTed there, and
  ``files.completeUploadExternal`` shares the file into a channel as a message.

No locking here: :class:`~devstack.fake_slack.server.FakeSlack` holds its lock.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from devstack.fake_slack.failures import SlackError
from devstack.fake_slack.world import TEAM_ID


@dataclass
class StoredFile:
    info: dict[str, Any]
    content: bytes | None = None
    channels: list[str] = field(default_factory=list)


class FileStore:
    """Every file shared or uploaded, by id."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.by_id: dict[str, StoredFile] = {}
        self.uploads: dict[str, str] = {}
        """upload id → file id, until completed."""

    def _new(self, base_url: str, user: str, name: str, size: int) -> dict[str, Any]:
        file_id = "F" + secrets.token_hex(5).upper()
        path = f"{base_url}/files-pri/{TEAM_ID}-{file_id}/{name}"
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "text"
        return {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": "text/csv" if filetype == "csv" else "text/plain",
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user,
            "user_team": TEAM_ID,
            "size": size,
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "url_private": path,
            "url_private_download": f"{path.rsplit('/', 1)[0]}/download/{name}",
            "permalink": f"{base_url}/files/{user}/{file_id}/{name}",
        }

    def share(self, base_url: str, user: str, name: str, content: bytes) -> dict[str, Any]:
        """A person's file; returns its ``files.info`` object (without ``channels``)."""
        info = self._new(base_url, user, name, len(content))
        self.by_id[info["id"]] = StoredFile(info, content)
        return copy.deepcopy(info)

    def info(self, file_id: Any) -> dict[str, Any]:
        stored = self.by_id.get(str(file_id))
        if stored is None or stored.content is None:
            raise SlackError("file_not_found")
        return {**copy.deepcopy(stored.info), "channels": list(stored.channels)}

    def content_at(self, file_id: str) -> bytes | None:
        stored = self.by_id.get(file_id)
        return None if stored is None else stored.content

    def upload_url(self, base_url: str, user: str, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or -1)
        except ValueError:
            length = -1
        if not filename or length < 0:
            raise SlackError("invalid_arguments")
        info = self._new(base_url, user, filename, length)
        self.by_id[info["id"]] = StoredFile(info)
        upload_id = secrets.token_hex(8)
        self.uploads[upload_id] = info["id"]
        return {"upload_url": f"{base_url}/upload/{upload_id}", "file_id": info["id"]}

    def receive(self, upload_id: str, data: bytes) -> bool:
        file_id = self.uploads.get(upload_id)
        if file_id is None:
            return False
        self.by_id[file_id].content = data
        self.by_id[file_id].info["size"] = len(data)
        return True

    def complete(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Finish uploads; returns the files (the caller shares them into the channel)."""
        files = params.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                files = None
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        done: list[dict[str, Any]] = []
        for entry in files:
            file_id = entry.get("id") if isinstance(entry, dict) else None
            stored = self.by_id.get(str(file_id))
            if stored is None or stored.content is None:
                raise SlackError("file_not_found")
            if entry.get("title"):
                stored.info["title"] = entry["title"]
            channel = params.get("channel_id")
            if channel and channel not in stored.channels:
                stored.channels.append(str(channel))
            self.uploads = {k: v for k, v in self.uploads.items() if v != file_id}
            done.append({**copy.deepcopy(stored.info), "channels": list(stored.channels)})
        return done
