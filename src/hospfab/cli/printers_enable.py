"""``hospfab printers disable NAME --reason R`` / ``printers enable NAME``: a printer taken out of service.

The flag lives in the database (``hospfab.journal.printer_state``), so every workstation and every site's
runner sees it on its next round; the fleet file is not touched. Registered on the ``printers`` group the way
``cli/jobs.py`` adds ``printers cleared``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, OperatorOpt, settings
from hospfab.cli.output import CommandResult, emit

NameArg = Annotated[str, typer.Argument(help="Printer name in the fleet file.", show_default=False)]


def _set(ctx: typer.Context, name: str, enabled: bool, reason: str | None, operator: str | None, json_: bool,
         command: str) -> None:
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.errors import InputError
        from hospfab.fleet import Fleet
        from hospfab.journal.printer_state import PrinterStates
        from hospfab.printing import default_operator

        Fleet.load(config.fleet_path).get(name)  # a printer of the fleet (NotFoundError otherwise)
        who = (operator or default_operator()).strip()
        if not enabled and not (reason or "").strip():
            raise InputError("--reason: say why the printer is taken out of service")
        with PrinterStates(config.database_target) as states:
            state = states.set_enabled(name, enabled, by=who, reason=(reason or "").strip() or None)
        data = state.as_dict() | {"by": who}
        word = "enabled" if enabled else f"disabled ({state.reason})"
        return CommandResult(data=data, render=lambda c: c.print(f"{name}: {word} by {who}", markup=False))

    emit(command, json_, work)


def printers_disable(ctx: typer.Context, name: NameArg,
                     reason: Annotated[str, typer.Option("--reason", help="Why (shown to every runner).")] = "",
                     operator: OperatorOpt = None, json_: JsonOpt = False) -> None:
    """Take a printer out of service for every workstation and runner (recorded: who, when, why).

    Example: hospfab printers disable mk4-01 --reason "nozzle clogged" --operator ana
    """
    _set(ctx, name, False, reason, operator, json_, "printers disable")


def printers_enable(ctx: typer.Context, name: NameArg, operator: OperatorOpt = None, json_: JsonOpt = False) -> None:
    """Put a disabled printer back in service.

    Example: hospfab printers enable mk4-01 --operator ana
    """
    _set(ctx, name, True, None, operator, json_, "printers enable")


def register(app: typer.Typer) -> None:
    """Add ``printers disable|enable`` to the ``printers`` group (created if no other module made it yet)."""
    for group in app.registered_groups:
        if group.name == "printers" and group.typer_instance is not None:
            group.typer_instance.command("disable")(printers_disable)
            group.typer_instance.command("enable")(printers_enable)
            return
    group = typer.Typer(help="Printers of the fleet.", no_args_is_help=True)
    group.command("disable")(printers_disable)
    group.command("enable")(printers_enable)
    app.add_typer(group, name="printers")
