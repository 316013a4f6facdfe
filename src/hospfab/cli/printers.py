"""``hospfab printers [status]``, ``printers add``, ``printers remove``, ``printers load``, ``printers history``.

The ``printers`` sub-app is built by :func:`printers_app`; ``cli/jobs.py`` adds ``printers cleared`` to it
through ``app.registered_groups`` (both modules are loaded for the ``printers`` command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from hospfab.cli.options import JsonOpt, OperatorOpt, settings
from hospfab.cli.output import CommandResult, emit, plain
from hospfab.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, max=120.0, help="Seconds to wait for each printer's answer.")
]
_UNASKED = {"printer_auth_refused": "key refused", "invalid_config": "no API key"}
_CONFIG_CODES = frozenset({"invalid_config", "unreadable", "not_found", "printer_request_invalid"})
_OPTION_OF_FIELD = {
    "name": "NAME",
    "url": "--url",
    "api_key_env": "--api-key-env",
    "api_key_file": "--api-key-file",
    "profile": "--profile",
    "material": "--material",
    "material_lot": "--lot",
    "site": "--site",
    "tags": "--tag",
    "bed_clearing": "--bed-clearing",
}


def printers_app() -> typer.Typer:
    """The one ``printers`` sub-app (``hospfab printers`` alone shows the status)."""
    group = typer.Typer(help="The printer fleet: status, add, remove, spool changes.")
    group.callback(invoke_without_command=True)(_printers_default)
    group.command("status")(status)
    group.command("add")(add)
    group.command("remove")(remove)
    group.command("load")(load)
    group.command("history")(history)
    return group


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(printers_app(), name="printers")


# -- helpers -----------------------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _state_style(item: Any) -> str:
    from hospfab.octoprint.states import BUSY_STATES, ERROR_STATES, IDLE_STATES

    if item.state is None or item.state in ERROR_STATES:
        return "red"
    if item.state in IDLE_STATES:
        return "green"
    if item.state in BUSY_STATES:
        return "yellow"
    return "dim"


def _input_error(err: Any) -> Exception:
    from hospfab.errors import InputError

    first = err.errors()[0]
    loc = [str(x) for x in first.get("loc", ()) if not isinstance(x, int)]
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if not loc:
        return InputError(message.replace("api_key_env", "--api-key-env").replace("api_key_file", "--api-key-file"))
    return InputError(f"{_OPTION_OF_FIELD.get(loc[0], loc[0])}: {message}")


def _check_profiles(config: Any, printer: str | None, material: str | None) -> None:
    """Refuse a printer or material profile that does not exist in the profiles folder."""
    from hospfab.errors import NotFoundError

    store = config.profile_store()
    for kind, name in (("printer", printer), ("material", material)):
        if name is None:
            continue
        known = store.names(kind)
        if name not in known:
            raise NotFoundError(
                f"{kind} profile {name}: not in {config.profiles_dir} (known: {', '.join(known) or 'none'})"
            )


# -- status ------------------------------------------------------------------------------------------------


def _printers_default(ctx: typer.Context, json_: JsonOpt = False, timeout: TimeoutOpt = 5.0) -> None:
    """Show the printers of the fleet and what they are doing (same as `hospfab printers status`).

    Example: hospfab printers
    """
    if ctx.invoked_subcommand is None:
        status(ctx, json_=json_, timeout=timeout)


def status(ctx: typer.Context, json_: JsonOpt = False, timeout: TimeoutOpt = 5.0) -> None:
    """Ask every printer of the fleet at once: state, current job, progress and time left.

    An unreachable printer is shown as such without failing the others; the exit code is 3 when any
    printer could not be asked or is in an error state, 2 when a printer's key source is unusable.

    Example: hospfab printers status --timeout 3
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.fleet import Fleet

        from hospfab.fleet.loading import shared_printers
        from hospfab.fleet.status import status_all

        fleet = Fleet.load(config.fleet_path)
        statuses = status_all(shared_printers(config, fleet.printers), timeout=timeout)  # spool from the database
        errors = []
        for item in statuses:
            if not item.reachable:
                errors.append({"code": item.error_code or "printer_unavailable", "message": item.error})
            elif not item.ok:
                message = f"printer {item.name}: {item.state_text or 'error'}"
                errors.append({"code": "printer_error", "message": message + (f": {item.error}" if item.error else "")})
        from hospfab.web.status import bed_waits

        waits = bed_waits(config.database_target, fleet.printers) if fleet.printers else {}
        data = {
            "fleet": str(fleet.path),
            "hint": fleet.hint,
            "printers": [item.as_dict() | {"waiting_for_clearing_since": waits.get(item.name)} for item in statuses],
        }

        def render(console: Console) -> None:
            from datetime import datetime

            from rich import box
            from rich.table import Table

            if fleet.hint:
                console.print(fleet.hint)
                return
            table = Table(title=f"Fleet {fleet.path}", title_justify="left", box=box.SIMPLE_HEAD)
            for column in ("Printer", "Profile", "Material", "State", "Job", "Done", "Left"):
                justify = "right" if column in ("Done", "Left") else "left"
                table.add_column(column, justify=justify, no_wrap=column in ("Printer", "State", "Done", "Left"))
            for item in statuses:
                printer = plain(item.name) + (f"\n[dim]{plain(item.site)}[/]" if item.site else "")
                material = plain(item.material) + (f"\n[dim]{plain(item.material_lot)}[/]" if item.material_lot else "")
                state = plain(item.state_text or (item.state.value if item.state else "unreachable"))
                if item.state is None:
                    state = _UNASKED.get(item.error_code or "", "unreachable")
                progress = f"{item.completion:.0f}%" if item.completion is not None else "-"
                table.add_row(
                    printer,
                    plain(item.profile),
                    material,
                    f"[{_state_style(item)}]{state}[/]",
                    plain(item.job_file or "-"),
                    progress,
                    _duration(item.print_time_left_s),
                )
            console.print(table)
            for name, since in waits.items():
                local = datetime.fromisoformat(since).astimezone()
                console.print(f"[yellow]{name}: waiting for bed clear since {local:%H:%M}[/] "
                              f"(`hospfab printers cleared {name}`)")

        exit_code = ExitCode.PRINTER if errors else ExitCode.OK
        if any(item.error_code in _CONFIG_CODES for item in statuses):
            exit_code = ExitCode.USAGE  # a key source or URL to fix in the fleet, not a printer to wait for
        return CommandResult(data=data, exit_code=exit_code, errors=errors, render=render)

    emit("printers status", json_, work)


# -- editing the fleet file --------------------------------------------------------------------------------


def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique printer name.", show_default=False)],
    url: Annotated[str, typer.Option("--url", help="OctoPrint base URL (http:// or https://).", show_default=False)],
    profile: Annotated[str, typer.Option("--profile", help="Printer profile name.", show_default=False)],
    material: Annotated[str, typer.Option("--material", help="Material profile loaded now.", show_default=False)],
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Environment variable holding the API key.")
    ] = None,
    api_key_file: Annotated[
        str | None, typer.Option("--api-key-file", help="File holding the API key (must be mode 0600).")
    ] = None,
    lot: Annotated[str | None, typer.Option("--lot", help="Lot number of the spool loaded now.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Where the printer stands.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A label (repeat for several).")] = None,
    bed_clearing: Annotated[
        str, typer.Option("--bed-clearing", help="manual (a person confirms the bed is clear) or automatic.")
    ] = "manual",
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Ask the printer before saving (refuse if unreachable).")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Add a printer to the fleet file. The API key itself is never stored: only where to find it.

    Example: hospfab printers add mk4-01 --url http://octopi-01.lan --api-key-env MK4_01_KEY --profile prusa-mk4 --material petg --lot L-117 --site icu
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from pydantic import ValidationError

        from hospfab.fleet import Fleet, PrinterConfig

        fleet = Fleet.load(config.fleet_path)
        try:
            printer = PrinterConfig(
                name=name,
                url=url,
                api_key_env=api_key_env,
                api_key_file=api_key_file,
                profile=profile,
                material=material,
                material_lot=lot,
                site=site,
                tags=list(tag or []),
                bed_clearing=bed_clearing,
            )
        except ValidationError as err:
            raise _input_error(err) from None
        _check_profiles(config, profile, material)
        fleet.add(printer)
        state = None
        if check:
            with printer.client(retries=0) as client:
                state = client.printer_state().text
        path = fleet.save(config.fleet_path)
        data = {"fleet": str(path), "printer": printer.model_dump(), "state": state}

        def render(console: Console) -> None:
            console.print(f"Added printer {name} to {path}" + (f" (state: {state})" if state else ""))

        return CommandResult(data=data, render=render)

    emit("printers add", json_, work)


def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Printer name.", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Remove a printer from the fleet file (its jobs stay in the journal).

    Example: hospfab printers remove mk4-01
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.fleet import Fleet

        fleet = Fleet.load(config.fleet_path)
        removed = fleet.remove(name)
        path = fleet.save(config.fleet_path)

        def render(console: Console) -> None:
            console.print(f"Removed printer {name} from {path}")

        return CommandResult(data={"fleet": str(path), "printer": removed.model_dump()}, render=render)

    emit("printers remove", json_, work)


def load(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Printer name.", show_default=False)],
    material: Annotated[str, typer.Option("--material", help="Material profile of the new spool.", show_default=False)],
    lot: Annotated[str, typer.Option("--lot", help="Lot number of the new spool.", show_default=False)],
    operator: OperatorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Record a spool change: the material and lot now loaded on a printer (fleet file and journal).

    Example: hospfab printers load mk4-01 --material petg --lot LOT-2024-117 --operator "A. Martin"
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.errors import InputError
        from hospfab.fleet import Fleet
        from hospfab.journal import Journal
        from hospfab.printing.send import default_operator

        if not lot.strip():
            raise InputError("--lot: must not be empty")
        who = (operator if operator is not None else default_operator()).strip()
        if not who:
            raise InputError("--operator: must not be empty")
        fleet = Fleet.load(config.fleet_path)
        printer = fleet.get(name)
        _check_profiles(config, None, material)
        before = {"material": printer.material, "material_lot": printer.material_lot}
        with Journal(config.database_target) as journal:  # traced first: a change is never untraced
            record = journal.record_material_load(name, material, lot.strip(), who)
        printer.material, printer.material_lot = material, lot.strip()
        path = fleet.save(config.fleet_path)
        after = {"material": printer.material, "material_lot": printer.material_lot}
        data = {"fleet": str(path), "printer": name, "before": before, "after": after, "load": record.as_dict()}

        def render(console: Console) -> None:
            old = before["material"] + (f" ({before['material_lot']})" if before["material_lot"] else "")
            console.print(f"Printer {plain(name)}: {plain(old)} -> {plain(material)} ({plain(lot.strip())}) by "
                          f"{plain(who)}, recorded in {plain(path)}")

        return CommandResult(data=data, render=render)

    emit("printers load", json_, work)


def history(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Printer name (default: every printer).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Show the spool changes recorded in the journal (material, lot, operator, time), newest first.

    Example: hospfab printers history mk4-01
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.journal import Journal

        with Journal(config.database_target) as journal:
            loads = [item.as_dict() for item in journal.material_loads(name)]
        data = {"printer": name, "material_loads": loads}

        def render(console: Console) -> None:
            from rich import box
            from rich.table import Table

            title = f"{len(loads)} spool change(s)" + (f" on {name}" if name else "")
            table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
            for column in ("At (UTC)", "Printer", "Material", "Lot", "Operator"):
                table.add_column(column, no_wrap=column != "Operator")
            for item in loads:
                at = item["at"][:19].replace("T", " ")
                table.add_row(at, *(plain(item[k]) for k in ("printer", "material", "lot", "operator")))
            console.print(table)

        return CommandResult(data=data, render=render)

    emit("printers history", json_, work)
