"""``hospfab journal check | backup OUT | restore FROM``: prove the journal is itself and intact, copy it,
put a good copy back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit
from hospfab.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

journal_app = typer.Typer(help="The job journal: check, back up, restore.", no_args_is_help=True)


@journal_app.command("check")
def check(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Check the journal: it is a hospfab journal, its own (not replaced through a foreign -wal file), passes
    SQLite's full integrity check, and every job row can be read (damaged rows are listed). Exit 4 if not.

    Example: hospfab journal check
    """

    def work() -> CommandResult:
        from hospfab.journal.integrity import WAY_OUT, check_journal

        path = _sqlite_journal(ctx)
        report = check_journal(path)
        errors = []
        if report["problem"]:
            errors.append({"code": "journal_damaged", "message": f"{path}: {report['problem']}; {WAY_OUT}"})
        for row in report["damaged_rows"]:
            errors.append({"code": "journal_row_damaged", "message": f"job {row['id']}: {row['problem']}"})

        def render(console: Console) -> None:
            if report["ok"]:
                console.print(f"Journal {path}: ok ({report['jobs']} jobs, id {report['id']})")

        return CommandResult(data=report, exit_code=ExitCode.OK if report["ok"] else ExitCode.SAFETY,
                             errors=errors, render=render)  # fmt: skip

    emit("journal check", json_, work)


@journal_app.command("backup")
def backup(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="New file to write the copy to (mode 0600).", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Copy the journal to OUT (a consistent copy, safe while printing), then check the copy.

    Example: hospfab journal backup /media/usb/journal-2026-06-11.sqlite3
    """

    def work() -> CommandResult:
        from hospfab.journal.integrity import backup_journal

        data = backup_journal(_sqlite_journal(ctx), out)
        return CommandResult(data=data, render=lambda c: c.print(f"Journal copied to {data['backup']}"))

    emit("journal backup", json_, work)


@journal_app.command("restore")
def restore(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A backup made by `hospfab journal backup`.", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Replace the journal with a checked backup. The current journal (and its -wal, -shm and id files) is
    moved aside as journal.sqlite3.replaced-TIME, never deleted. Run `hospfab jobs list` after: jobs that were
    active in the backup are reconciled with the printers.

    Example: hospfab journal restore /media/usb/journal-2026-06-11.sqlite3
    """

    def work() -> CommandResult:
        from hospfab.journal.integrity import restore_journal

        data = restore_journal(_sqlite_journal(ctx), source)

        def render(console: Console) -> None:
            console.print(f"Journal restored from {data['restored_from']}")
            for aside in data["moved_aside"]:
                console.print(f"  previous file kept as {aside}")

        return CommandResult(data=data, render=render)

    emit("journal restore", json_, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(journal_app, name="journal")


def _sqlite_journal(ctx: typer.Context):
    """The SQLite journal file; with a PostgreSQL database configured these commands do not apply."""
    from pathlib import Path

    from hospfab.errors import InputError
    from hospfab.journal.db import describe, is_url

    config = settings(ctx)
    if is_url(str(config.database_target)):
        raise InputError(f"the database is {describe(config.database_target)}: `hospfab journal` checks, backs up "
                         "and restores the SQLite journal; for PostgreSQL use pg_dump/pg_restore and `hospfab db status`")
    return Path(config.database_target)
