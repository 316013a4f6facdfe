"""``hospfab printers set NAME --bed-clearing manual|automatic``: change how a printer's bed gets cleared.

The fleet file is rewritten atomically and the change is recorded in the journal database (who, when, from
what to what). Registered on the ``printers`` group the way ``cli/jobs.py`` adds ``printers cleared``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, OperatorOpt, settings
from hospfab.cli.output import CommandResult, emit


def printers_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Printer name in the fleet file.", show_default=False)],
    bed_clearing: Annotated[str, typer.Option(
        "--bed-clearing", help="manual (a person confirms the bed is clear) or automatic (the printer clears it).",
        show_default=False)],
    operator: OperatorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Change a printer's bed clearing (recorded: who and when).

    Example: hospfab printers set mk4-01 --bed-clearing automatic --operator ana
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.errors import InputError
        from hospfab.fleet import Fleet
        from hospfab.printing import default_operator
        from hospfab.queue.bed_clearing import BedClearingLog

        if bed_clearing not in ("manual", "automatic"):
            raise InputError(f"--bed-clearing {bed_clearing!r}: expected manual or automatic")
        fleet = Fleet.load(config.fleet_path)
        printer = fleet.get(name)
        before = printer.bed_clearing
        who = operator or default_operator()
        if before != bed_clearing:
            printer.bed_clearing = bed_clearing
            fleet.save()
        with BedClearingLog(config.database_target) as log:
            change = log.record(name, before, bed_clearing, who)
        data = change.as_dict()
        return CommandResult(data=data, render=lambda c: c.print(
            f"{name}: bed clearing {before} -> {bed_clearing} (by {who} at {change.at[:16]} UTC).", markup=False))

    emit("printers set", json_, work)


def register(app: typer.Typer) -> None:
    """Add ``printers set`` to the ``printers`` group (created if no other module made it yet)."""
    for group in app.registered_groups:
        if group.name == "printers" and group.typer_instance is not None:
            group.typer_instance.command("set")(printers_set)
            return
    group = typer.Typer(help="Printers of the fleet.", no_args_is_help=True)
    group.command("set")(printers_set)
    app.add_typer(group, name="printers")
