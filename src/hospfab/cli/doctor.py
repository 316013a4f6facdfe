"""`hospfab doctor`: is everything this workstation needs in place? (exit 0 only when it is)."""

from __future__ import annotations

from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit


def doctor(
    ctx: typer.Context,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this check (repeatable), e.g. --only slicer.")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each printer.")] = 5.0,
    json_: JsonOpt = False,
) -> None:
    """Check this workstation: versions, slicer, profiles, catalog and its signatures, fleet, API key files,
    printers, journal database, free disk space.

    Prints one line per finding (OK, WARN, FAIL) and what to do. Exit 0 when nothing failed (warnings
    allowed), 1 when a check failed. `--json` gives every result, for monitoring.

    Example: hospfab doctor --json
    """

    def work() -> CommandResult:
        from hospfab.doctor import Context, Status, run_checks
        from hospfab.doctor.base import load_checks
        from hospfab.errors import ExitCode, NotFoundError

        if only:
            unknown = sorted(set(only) - set(load_checks()))
            if unknown:
                raise NotFoundError(f"unknown check(s) {', '.join(unknown)} (checks: {', '.join(load_checks())})")
        results = run_checks(Context(settings(ctx), printer_timeout_s=timeout), only)
        failed = [r for r in results if r.status is Status.FAIL]
        warned = [r for r in results if r.status is Status.WARN]
        data = {"results": [r.as_dict() for r in results], "failed": len(failed), "warnings": len(warned)}

        def render(console) -> None:
            colours = {"ok": "green", "warn": "yellow", "fail": "red"}
            for r in results:
                tag = f"[{colours[r.status.value]}]{r.status.value.upper():<4}[/]"
                console.print(f"{tag} {r.key}: ", end="", highlight=False)
                console.print(r.message, markup=False, highlight=False)
                if r.fix and r.status is not Status.OK:
                    console.print(f"     -> {r.fix}", markup=False, highlight=False)
            verdict = "ready" if not failed else f"{len(failed)} problem(s) to fix"
            console.print(f"{verdict}; {len(warned)} warning(s)", markup=False)

        errors = [{"code": f"doctor_{r.key.split(':')[0]}", "message": f"{r.key}: {r.message}"} for r in failed]
        return CommandResult(data=data, exit_code=ExitCode.FAILED if failed else ExitCode.OK, errors=errors,
                             render=render)

    emit("doctor", json_, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("doctor")(doctor)
