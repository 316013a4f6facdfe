"""`hospfab db ...`: the shared database (SQLite file or PostgreSQL): status, upgrade, copy a journal in."""

from __future__ import annotations

from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit

db_app = typer.Typer(help="The database holding the journal, queue and printer state.", no_args_is_help=True)


@db_app.command("status")
def status_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the backend, server, schema versions and row counts of the configured database (read only; the
    password is never shown).

    Example: HOSPFAB_DATABASE=postgresql://hospfab@db.example/hospfab hospfab db status
    """

    def work() -> CommandResult:
        from hospfab.journal.admin import status

        data = status(settings(ctx).database_target)

        def render(console) -> None:
            console.print(f"database  {data['database']}", markup=False)
            console.print(f"server    {data['server']}", markup=False)
            for name, v in data["components"].items():
                known = "?" if v["code"] is None else v["code"]
                flag = "  (run `hospfab db upgrade`)" if name in data["pending_upgrade"] else ""
                console.print(f"schema    {name}: version {v['recorded']} (this hospfab: {known}){flag}", markup=False)
            for table, count in data["counts"].items():
                console.print(f"rows      {table}: {count}", markup=False)

        return CommandResult(data=data, render=render)

    emit("db status", as_json, work)


@db_app.command("upgrade")
def upgrade_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create or migrate every table of the configured database to this hospfab's schema versions.

    Example: hospfab --database postgresql://hospfab@db.example/hospfab db upgrade
    """

    def work() -> CommandResult:
        from hospfab.journal.admin import upgrade
        from hospfab.journal.db import describe

        target = settings(ctx).database_target
        versions = upgrade(target)
        data = {"database": describe(target), "components": versions}

        def render(console) -> None:
            console.print(f"{data['database']}: up to date", markup=False)
            for name, version in versions.items():
                console.print(f"  {name}: version {version}", markup=False)

        return CommandResult(data=data, render=render)

    emit("db upgrade", as_json, work)


@db_app.command("copy")
def copy_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", help="The journal to copy: an SQLite file or a database URL.",
                                        show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Copy a journal (jobs, spool changes, bed confirmations, lots, plates, events) into the configured
    database; every row is verified by checksum; rows already there are skipped, so it can be rerun.

    Example: HOSPFAB_DATABASE=postgresql://hospfab@db.example/hospfab hospfab db copy --from ~/.local/share/hospfab/journal.sqlite3
    """

    def work() -> CommandResult:
        from dataclasses import asdict
        from pathlib import Path

        from hospfab.journal.admin import copy_database
        from hospfab.journal.db import describe, is_url

        target = settings(ctx).database_target
        origin = source if is_url(source) else Path(source).expanduser()
        tables = [asdict(t) for t in copy_database(origin, target)]
        data = {"from": describe(origin), "to": describe(target), "tables": tables}

        def render(console) -> None:
            console.print(f"{data['from']} -> {data['to']}", markup=False)
            for t in tables:
                console.print(f"  {t['table']}: {t['source_rows']} rows, {t['copied']} copied, "
                              f"{t['already_present']} already there, verified (sha256 {t['checksum'][:12]})",
                              markup=False)  # fmt: skip

        return CommandResult(data=data, render=render)

    emit("db copy", as_json, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(db_app, name="db")
