"""``rally-slack import --team T --user U FILE.csv [--dry-run]`` (SPEC §3, §7 CSV import).

The import a CSV shared in a DM with the app runs, from the command line: the file is
read and previewed (rows per type, every invalid row with its row, column and reason);
``--dry-run`` stops there and creates nothing. Otherwise the valid rows go through the
bulk endpoint in chunks of at most 100, one line per chunk, then the summary, and the
failed rows with their reasons are written beside the file as ``FILE.failed.csv``. The
exit status is 1 when any row failed, 2 when the file was refused.

Rows are logged as the user ``U`` of team ``T`` would log them (SPEC §6): with their own
Rally key when they connected one, else the workspace's with their mapped owner id.
Interrupted, the same command resumes; run again on the same file, it creates nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.redis import worker_redis
from core.settings import load_settings
from workers.imports import progress
from workers.imports.csv_file import CsvRefused, ParsedCsv, check_size, read_csv
from workers.imports.run import ChunkProgress, ImportBusy, failed_csv, run_import


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--team", required=True, help="the Slack team id (T…)")
    parser.add_argument("--user", required=True, help="the Slack user id (U…) rows are logged as")
    parser.add_argument("file", type=Path, metavar="FILE.csv", help="the CSV to import")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the preview only; create nothing"
    )
    parser.add_argument(
        "--failed-csv",
        type=Path,
        default=None,
        help="where to write the failed rows (default: FILE.failed.csv beside the file)",
    )


def preview_lines(parsed: ParsedCsv, name: str) -> list[str]:
    """The preview as lines of text: totals, rows per type, each invalid row."""
    invalid = parsed.invalid_rows
    types = ", ".join(f"{kind} {n}" for kind, n in parsed.counts_by_type().items()) or "none"
    lines = [
        f"{name}: {parsed.rows} rows, {len(parsed.valid)} valid ({types}), {len(invalid)} invalid"
    ]
    for error in parsed.errors:
        where = f", {error.column}" if error.column else ""
        lines.append(f"  row {error.row}{where}: {error.reason}")
    return lines


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        check_size(path.stat().st_size)  # before reading it all into memory
        data = path.read_bytes()
        parsed = read_csv(data)
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except CsvRefused as exc:
        print(f"{path.name} refused: {exc}", file=sys.stderr)
        return 2
    for line in preview_lines(parsed, path.name):
        print(line)
    if args.dry_run:
        print("dry run: nothing was created")
        return 0
    if not parsed.valid:
        print("no valid rows: nothing to import")
        return 1
    settings = load_settings()
    conn = worker_redis(settings.redis_url)
    import_id = progress.import_id_for(args.team, args.user, data)
    progress.save(
        conn,
        import_id,
        parsed,
        team=args.team,
        user=args.user,
        filename=path.name,
        extra={"source": "cli"},
    )

    def tell(step: ChunkProgress) -> None:
        print(
            f"chunk {step.chunk + 1}/{step.total}: {step.created} created, "
            f"{step.failed} refused by Rally so far",
            flush=True,
        )

    try:
        summary = run_import(conn, settings, import_id, on_chunk=tell)
    except ImportBusy:
        print("this file is being imported right now by another run; try again in a minute")
        return 1
    if summary["status"] == "not_connected":
        print(f"team {args.team} is not connected to Rally: run rally-slack connect first")
        return 2
    if summary["status"] != "done":
        print(f"import {summary['status']}")
        return 1
    stored = progress.load(conn, import_id)
    again = ""
    if summary["created_now"] < summary["created"]:
        again = f" ({summary['created_now']} of them now: the rest were imported before)"
    print(f"import done: {summary['created']} created{again}, {summary['failed']} failed")
    if summary["failed"] and stored is not None:
        out: Path = args.failed_csv or path.with_name(f"{path.stem}.failed.csv")
        out.write_bytes(failed_csv(stored, summary))
        print(f"failed rows with their reasons: {out}")
    return 1 if summary["failed"] else 0
