"""The jobs behind a CSV shared in a DM with the app (SPEC §7, CSV import).

1. ``read_shared_file``: a ``file_share`` in the DM queued it. It asks ``files.info``,
   downloads ``url_private_download`` with the bot token (only from Slack's own file host
   or ``SLACK_API_URL``'s, so the token never goes anywhere else), reads the file, keeps the
   parsed import in Redis and posts the preview with **Import** (whose value is the
   import's id, never the file).
2. ``import_from_slack``: **Import** was pressed by the person who shared the file. The
   import runs chunk by chunk (``workers.imports.run``), the preview message updating
   after each; at the end the summary replaces it and the failed rows, with their reasons,
   are uploaded to the DM as a CSV (``files_upload_v2``: ``files.getUploadURLExternal``,
   the bytes, ``files.completeUploadExternal``), once.

Both take plain JSON arguments, no secret; clients are built here from settings.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from api_client import RallyError
from core.redis import worker_redis
from core.settings import Settings
from slack_ui import imports as ui
from slack_ui.kit import SlackMessage
from workers import workspace
from workers.imports import progress
from workers.imports.csv_file import CsvRefused, check_size, read_csv
from workers.imports.run import ChunkProgress, ImportBusy, failed_csv, run_import

log = logging.getLogger(__name__)

SLACK_FILE_HOSTS: Final = ("files.slack.com",)
DOWNLOAD_TIMEOUT_SECONDS: Final = 30.0


def _settings() -> Settings:
    return Settings()


class NotDownloadable(Exception):
    """The file cannot be fetched from Slack (says why, for the person)."""


def is_csv(info: dict[str, Any]) -> bool:
    name = str(info.get("name") or "")
    return str(info.get("filetype") or "").lower() == "csv" or name.lower().endswith(".csv")


def _allowed_host(settings: Settings, url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    api_host = (urlsplit(settings.slack_api_url).hostname or "").lower()
    return parts.scheme in ("https", "http") and (host in SLACK_FILE_HOSTS or host == api_host)


def download(settings: Settings, client: WebClient, info: dict[str, Any]) -> bytes:
    """The file's bytes, with the bot token, refusing more than the import limit.

    Raises:
        NotDownloadable: not on Slack's file host, not answered, or over the limit.
        CsvRefused: over the byte limit (as ``files.info`` or the download says).
    """
    check_size(int(info.get("size") or 0))
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    if not url or not _allowed_host(settings, url):
        # Never send the bot token to a host that is not Slack's.
        raise NotDownloadable("Slack did not give a download address I can use")
    headers = {"Authorization": f"Bearer {client.token}"}
    data = bytearray()
    try:
        with httpx.stream(
            "GET", url, headers=headers, timeout=DOWNLOAD_TIMEOUT_SECONDS, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                # A 302 to the sign-in page is Slack saying the token may not read it.
                raise NotDownloadable(f"Slack answered {response.status_code} to the download")
            for part in response.iter_bytes():
                data += part
                check_size(len(data))
    except httpx.HTTPError as exc:
        raise NotDownloadable(f"the download failed ({type(exc).__name__})") from None
    return bytes(data)


def _post(client: WebClient, channel: str, message: SlackMessage) -> str | None:
    """Post in the DM; Slack refusing (the DM closed, the app removed) is logged, not
    retried: there is nobody left to tell."""
    try:
        response = client.chat_postMessage(channel=channel, **message.to_dict())
    except SlackApiError as exc:
        log.warning("event=import_post_failed error=%s", exc.response.get("error"))
        return None
    return str(response.get("ts") or "") or None


def read_shared_file(team: str, user: str, channel: str, file_id: str) -> dict[str, Any]:
    """Read a file shared in the app's DM and answer there with its preview.

    Args:
        team: The workspace.
        user: Who shared it (the only one who may import it).
        channel: The DM with the app.
        file_id: Slack's id of the file.

    Returns:
        ``{"status": "previewed", "import_id"}``, ``{"status": "refused", "reason"}`` or
        ``{"status": "ignored"}`` (not a CSV).
    """
    settings = _settings()
    conn = worker_redis(settings.redis_url)
    try:
        client = workspace.slack_client(settings, team, retries="rate_limits")
    except workspace.NotInstalled:
        return {"status": "ignored"}
    try:
        info = dict(client.files_info(file=file_id)["file"])
    except SlackApiError as exc:
        log.info("event=import_file_info_failed team=%s error=%s", team, exc.response.get("error"))
        _post(client, channel, ui.notice("I couldn't read that file from Slack. Share it again?"))
        return {"status": "refused", "reason": "files.info failed"}
    name = str(info.get("name") or "file.csv")
    if not is_csv(info):
        _post(client, channel, ui.notice(f"{name} is not a CSV file: share a .csv to import it."))
        return {"status": "ignored"}
    try:
        data = download(settings, client, info)
        parsed = read_csv(data)
    except (CsvRefused, NotDownloadable) as exc:
        _post(client, channel, ui.refused(name, str(exc)))
        log.info("event=import_refused team=%s user=%s reason=%s", team, user, exc)
        return {"status": "refused", "reason": str(exc)}
    import_id = progress.import_id_for(team, user, data)
    progress.save(
        conn,
        import_id,
        parsed,
        team=team,
        user=user,
        filename=name,
        extra={"source": "slack", "channel": channel},
    )
    message = ui.preview(
        import_id=import_id,
        filename=name,
        rows=parsed.rows,
        valid=len(parsed.valid),
        counts=parsed.counts_by_type(),
        invalid=[e.to_json() for e in parsed.errors],
    )
    ts = _post(client, channel, message)
    log.info(
        "event=import_previewed team=%s user=%s import=%s rows=%d valid=%d",
        team,
        user,
        import_id,
        parsed.rows,
        len(parsed.valid),
    )
    return {"status": "previewed", "import_id": import_id, "ts": ts}


def _update(client: WebClient, channel: str, ts: str | None, message: SlackMessage) -> None:
    if ts is None:
        _post(client, channel, message)
        return
    try:
        client.chat_update(channel=channel, ts=ts, **message.to_dict())
    except SlackApiError as exc:
        # The preview was deleted: say it in a new message instead.
        log.info("event=import_update_failed error=%s", exc.response.get("error"))
        _post(client, channel, message)


def import_from_slack(
    import_id: str, team: str, user: str, channel: str, message_ts: str | None
) -> dict[str, Any]:
    """Run the import **Import** started; progress and summary in the preview's place.

    Raises:
        RallyError: transient trouble, for RQ to retry (the done chunks stay done).
        ImportBusy: another run of the import is going on; RQ retries later.
    """
    settings = _settings()
    conn = worker_redis(settings.redis_url)
    client = workspace.slack_client(settings, team, retries="rate_limits")
    meta = progress.load_meta(conn, import_id)
    if meta is None:
        _update(client, channel, message_ts, ui.notice(EXPIRED))
        return {"status": "expired"}
    if (meta.get("team"), meta.get("user")) != (team, user):
        # The button checked it; a forged or replayed job gets nothing either.
        log.warning("event=import_refused_not_owner team=%s user=%s", team, user)
        return {"status": "not_yours"}
    name = str(meta.get("filename") or "file.csv")
    interval = settings.import_progress_interval_ms / 1000
    last_update = [0.0]

    def tell(step: ChunkProgress) -> None:
        # After each chunk, but not faster than Slack lets a message be updated; the
        # last chunk's is left to the summary.
        now = time.monotonic()
        if step.done == step.total or now - last_update[0] < interval:
            return
        last_update[0] = now
        message = ui.progress(
            filename=name,
            done=step.done,
            total=step.total,
            created=step.created,
            failed=step.failed,
        )
        _update(client, channel, message_ts, message)

    # ImportBusy (another run holds the import: a CLI run, or a killed run whose lock has
    # not lapsed yet) is raised for RQ to retry later, when that run is done or gone.
    summary = run_import(conn, settings, import_id, on_chunk=tell)
    if summary["status"] == "not_connected":
        _update(client, channel, message_ts, ui.notice(NOT_CONNECTED))
        return summary
    if summary["status"] != "done":
        _update(client, channel, message_ts, ui.notice(EXPIRED))
        return summary
    _update(
        client,
        channel,
        message_ts,
        ui.summary(
            filename=name,
            created=summary["created"],
            failed=summary["failed"],
            created_now=summary["created_now"],
        ),
    )
    stored = progress.load(conn, import_id) if summary["failed"] else None
    if stored is not None and not conn.hexists(progress.key(import_id), UPLOADED):
        stem = name.rsplit(".", 1)[0]
        client.files_upload_v2(
            channel=channel,
            filename=f"{stem}.failed.csv",
            title=f"{stem}: failed rows",
            content=failed_csv(stored, summary),
            initial_comment=f"The {summary['failed']} rows of {name} that were not imported, "
            "each with its reason (columns `row` and `error`).",
        )
        conn.hset(progress.key(import_id), UPLOADED, "1")
    log.info(
        "event=import_done team=%s user=%s import=%s created=%d failed=%d",
        team,
        user,
        import_id,
        summary["created"],
        summary["failed"],
    )
    return {k: v for k, v in summary.items() if k != "failed_rows"}


UPLOADED: Final = "failed_csv_uploaded"
"""Set in the import's hash once its failed rows are in the DM (a retried job skips it)."""


def on_import_failed(job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback of ``import_from_slack``: once retries are spent, say so in the
    import's message, with **Continue import**."""
    if job.should_retry:
        return
    kwargs = job.kwargs
    log.warning(
        "event=import_gave_up import=%s error=%s",
        kwargs.get("import_id"),
        getattr(exc_type, "__name__", exc_type),
    )
    if isinstance(exc, RallyError):
        reason = "Rally could not be reached for a while."
    elif isinstance(exc, ImportBusy):
        reason = "another run of this import was going on."
    else:
        reason = f"something went wrong on our side (job {job.id})."
    meta = progress.load_meta(connection, str(kwargs.get("import_id"))) or {}
    try:
        client = workspace.slack_client(_settings(), kwargs.get("team"), retries="rate_limits")
        _update(
            client,
            str(kwargs.get("channel")),
            kwargs.get("message_ts"),
            ui.stopped(
                import_id=str(kwargs.get("import_id")),
                filename=str(meta.get("filename") or "file.csv"),
                reason=reason,
            ),
        )
    except Exception as failure:  # the callback must not fail the failure path
        log.warning("event=import_stop_notice_failed error=%s", type(failure).__name__)


EXPIRED = (
    "This import is no longer kept (imports are kept for 7 days). Share the file again "
    "to import it; rows already imported are not created twice."
)
NOT_CONNECTED = (
    "This workspace isn't connected to Rally yet; an admin connects it from the app's "
    "Home tab (Connect Rally). Files up to {MAX_BYTES // (1024 * 1024)} MiB can be imported."
)
