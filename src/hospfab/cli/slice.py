"""`hospfab slice`: check, slice with PrusaSlicer, stamp and check the G-code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    h, rest = divmod(int(seconds), 3600)
    return f"{h}h {rest // 60:02d}m" if h else f"{rest // 60}m {rest % 60:02d}s"


def slice_command(
    ctx: typer.Context,
    stls: Annotated[list[Path], typer.Argument(help="STL file(s) to slice together.", show_default=False)],
    printer: Annotated[str, typer.Option("--printer", "-p", help="Printer profile.", show_default=False)],
    material: Annotated[str, typer.Option("--material", "-m", help="Material profile.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="G-code file to write.", show_default=False)],
    process: Annotated[str, typer.Option("--process", help="Process profile.")] = "standard",
    copies: Annotated[int, typer.Option("--copies", "-n", help="Copies of each part on the plate.")] = 1,
    force: Annotated[
        bool, typer.Option("--force", help="Slice even if the mesh check fails (recorded in the G-code).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Slice STL files for a printer and material; refuse bad meshes and parts that do not fit.

    Example: hospfab slice valve.stl --printer prusa-mk4 --material petg --process airtight -o valve.gcode
    """

    def work() -> CommandResult:
        from hospfab.slicing import slice_parts

        store = settings(ctx).profile_store()
        result = slice_parts(
            list(stls), store.printer(printer), store.material(material), store.process(process),
            copies, output=output, force=force,
        )
        data = result.to_dict()

        def render(console) -> None:
            est = result.estimates
            console.print(f"[green]sliced[/] {', '.join(p.name for p in stls)} -> {result.output}", markup=True)
            if result.forced:
                console.print("[yellow]forced[/]: mesh check failed and was overridden", markup=True)
            console.print(
                f"{printer} / {material} / {process}, {copies} cop{'y' if copies == 1 else 'ies'}, "
                f"{result.layers} layers, {_duration(est['print_time_s'])}, "
                f"{est['filament_g'] or 0:g} g ({(est['filament_mm'] or 0) / 1000:.2f} m)", markup=False)
            console.print(f"sha256 {result.sha256}  ({result.slicer.name} {result.slicer.version})", markup=False)

        return CommandResult(data=data, render=render)

    emit("slice", as_json, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("slice")(slice_command)
