"""`hospfab gcode check`: check a G-code file against a printer and a material."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit

gcode_app = typer.Typer(help="G-code checks.", no_args_is_help=True)


@gcode_app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="G-code file.", show_default=False)],
    printer: Annotated[str, typer.Option("--printer", "-p", help="Printer profile.", show_default=False)],
    material: Annotated[str, typer.Option("--material", "-m", help="Material profile.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Check moves, heights, temperatures and flavor of a G-code file (exit 1 on any problem).

    Proven, reading each line as Marlin does (a bare CR ends a line) and
    following G90/G91, M82/M83, G92, G20/G21 and arcs:
    - every move ends inside the allowed box: X and Y on the bed or in the
      profile's travel area beside it, Z from 0 to the maximum height
      (an arc by its whole circle);
    - no move on an axis before G28 homes it or G92 sets it;
    - no extrusion with the nozzle target below the printer's cold-extrusion
      limit or the material's minimum, nor the bed below the material's;
    - every heating command (M104 M109 M140 M190 M141 M191 M303) within the
      printer's and the material's maximum;
    - no word given twice on a line (G1 X500 X10);
    - no firmware-changing command (M92 M206 M211 S0 M302 M428 M500 M502
      M851 M997) unless the printer profile allows it;
    - the slicer's flavor matches the printer.

    Not proven: that the nozzle reached its target (M104 without M109); the
    physical home position (G28 is taken as 0, 0, 0) and probe offsets;
    commands not listed above (recorded, not simulated); E after G90
    following M83 (firmwares differ; read as relative); ( ) comments (read
    as comments); speeds, fans and the quality of the part.

    Example: hospfab gcode check valve.gcode --printer prusa-mk4 --material petg
    """

    def work() -> CommandResult:
        from hospfab.errors import ExitCode
        from hospfab.gcode import check_gcode
        store = settings(ctx).profile_store()
        report = check_gcode(file, store.view("printer", printer), store.view("material", material))
        data = report.to_dict()
        stats = report.stats

        def render(console) -> None:
            verdict = "[green]ok[/]" if report.ok else "[red]FAILED[/]"
            console.print(f"{verdict}  {file} on {printer} with {material}", markup=True)
            ext = stats["extents_mm"]
            if ext:
                console.print("printing extents: " + ", ".join(f"{a} {v[0]:g}..{v[1]:g}" for a, v in ext.items())
                              + f" mm; max Z {stats['max_z_mm']} mm; {stats['layers']} layers", markup=False)
            console.print(f"nozzle {stats['nozzle_temps_c']} °C, bed {stats['bed_temps_c']} °C; "
                          f"{stats['lines']} lines, {stats['moves']} moves", markup=False)
            if stats["estimates"]:
                console.print("estimates: " + ", ".join(f"{k} {v:g}" for k, v in stats["estimates"].items()),
                              markup=False)
            for w in report.warnings:
                console.print(f"[yellow]warning[/] {w}", markup=True, highlight=False)

        errors = [{"code": i.code, "message": f"{file}: {i.message}"} for i in report.issues]
        extra = sum(report.stats["issue_counts"].get(c, 0) for c in report.codes) - len(errors)
        if extra > 0:
            errors.append({"code": report.codes[0], "message": f"{file}: ... and {extra} more problem(s)"})
        return CommandResult(data=data, exit_code=ExitCode.OK if report.ok else ExitCode.FAILED,
                             errors=errors, render=render)

    emit("gcode check", as_json, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(gcode_app, name="gcode")
