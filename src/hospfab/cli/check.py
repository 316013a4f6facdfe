"""`hospfab check` (STL mesh checks) and `hospfab repair`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit
from hospfab.errors import ExitCode

PrinterOpt = Annotated[
    str | None,
    typer.Option("--printer", help="Printer profile whose build volume the part must fit and whose nozzle "
                 "sets the thinnest printable wall, e.g. prusa-mk4.", show_default=False),
]
MinWallOpt = Annotated[
    float | None,
    typer.Option("--min-wall", help="Report walls thinner than this (mm); default: the --printer's nozzle.",
                 min=0.01, max=20.0, show_default=False),
]
PictureOpt = Annotated[
    Path | None,
    typer.Option("--picture", help="Write a PNG of the part with each defect's facets coloured (one file).",
                 show_default=False),
]


def _stl_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders expand to the STL files inside them (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() == ".stl" and q.is_file())
        else:
            out.append(p)
    return out


def _printer(ctx: typer.Context, printer: str | None):
    if printer is None:
        return None
    return settings(ctx).profile_store().view("printer", printer)


def _unreadable(path: Path, err) -> dict:
    return {"path": str(path), "ok": False, "errors": [err.code], "warnings": [], "stats": {},
            "findings": [{"code": err.code, "severity": "error", "message": err.message,
                          "advice": "re-export the file from its CAD source as binary STL"}]}


def check(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="STL files, or folders holding them.", show_default=False)],
    printer: PrinterOpt = None,
    min_wall: MinWallOpt = None,
    picture: PictureOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check STL meshes before printing: closed, consistently wound, outward, no degenerate or duplicate
    facets, no self-intersections, one body (tiny debris counted apart), sensible units; with --printer or
    --min-wall, no walls thinner than the nozzle; with --printer, fits the printer.

    Exit code 0 when every file passes (warnings allowed), 1 when a file has an error, 2 when a file
    cannot be read.

    Example: hospfab check part.stl --printer prusa-mk4 --picture part-defects.png
    """

    def work() -> CommandResult:
        from hospfab.errors import InputError
        from hospfab.mesh import MeshReadError, read_stl
        from hospfab.mesh.report import check_triangles

        profile = _printer(ctx, printer)
        build = tuple(profile.build_volume_mm) if profile is not None else None
        wall = min_wall if min_wall is not None else (profile.nozzle_diameter_mm if profile is not None else None)
        stls = _stl_paths(paths)
        if picture is not None and len(stls) != 1:
            raise InputError(f"{picture}: --picture needs exactly one STL file ({len(stls)} given)")
        files, errors = [], []
        exit_code = ExitCode.OK
        for path in stls:
            try:
                tri = read_stl(path)
                report = check_triangles(tri, str(path), build, min_wall_mm=wall, detail=picture is not None)
            except MeshReadError as err:
                files.append(_unreadable(path, err))
                errors.append(err.as_dict())
                exit_code = ExitCode.USAGE
                continue
            entry = report.to_dict()
            if picture is not None:
                from hospfab.mesh.picture import write_picture

                entry["picture"] = {"path": str(picture), "shows": write_picture(tri.vertices, report, picture)}
            files.append(entry)
            if not report.ok:
                errors.append({"code": "check_failed", "message": f"{path}: {', '.join(report.errors)}"})
                exit_code = max(exit_code, ExitCode.FAILED)
        if not files:
            from hospfab.errors import InputError

            raise InputError(f"{', '.join(map(str, paths))}: no STL files found")
        data = {"files": files}
        if printer is not None:
            data["printer"] = {"name": printer, "build_volume_mm": list(build),
                               "nozzle_diameter_mm": profile.nozzle_diameter_mm}
        if wall is not None:
            data["min_wall_mm"] = wall
        return CommandResult(data=data, exit_code=exit_code, errors=errors,
                             render=lambda console: _render_check(console, files))

    emit("check", as_json, work)


def _render_check(console, files: list[dict]) -> None:
    from rich.table import Table

    for f in files:
        s = f["stats"]
        verdict = "[bold green]OK[/]" if f["ok"] else "[bold red]FAIL[/]"
        if s:
            size = " x ".join(f"{e:g}" for e in s["extents_mm"])
            summary = (f"{s['triangles']:,} facets, {size} mm, {s['volume_mm3']:,.1f} mm3, "
                       f"{s['bodies']} bod{'y' if s['bodies'] == 1 else 'ies'}")
            if s.get("orientation"):
                summary += f"; fits the printer {s['orientation']['name']}"
        else:
            summary = "unreadable"
        console.print(f"{verdict} [bold]{f['path']}[/]: {summary}")
        if "picture" in f:
            shown = ", ".join(f["picture"]["shows"]) or "nothing to colour"
            console.print(f"picture: {f['picture']['path']} ({shown})")
        if not f["findings"]:
            continue
        table = Table("", "check", "what is wrong", "what to do", show_lines=False, pad_edge=False)
        for item in f["findings"]:
            mark = "[red]error[/]" if item["severity"] == "error" else "[yellow]warning[/]"
            table.add_row(mark, item["code"], item["message"], item["advice"])
        console.print(table)


def repair(
    source: Annotated[Path, typer.Argument(help="The STL file to repair (never modified).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the repaired binary STL.",
                                         show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Repair an STL mesh into a new file: weld cracks, remove degenerate and duplicate facets and tiny
    debris bodies (noise shells), fix winding and inside-out bodies, fill small holes, union crossing
    shells. Prints the checks before and after; exit 1 when the result still fails, 2 when the input is
    unreadable or holds coordinates binary STL cannot store.

    Example: hospfab repair broken.stl -o fixed.stl
    """

    def work() -> CommandResult:
        from hospfab.mesh import repair_file

        report = repair_file(source, output)
        errors = [] if report.ok else [{"code": "check_failed",
                                        "message": f"{output}: still fails: {', '.join(report.after.errors)}"}]
        return CommandResult(data=report.to_dict(), exit_code=ExitCode.OK if report.ok else ExitCode.FAILED,
                             errors=errors, render=lambda console: _render_repair(console, report))

    emit("repair", as_json, work)


def _render_repair(console, report) -> None:
    from rich.table import Table

    b, a = report.before.stats, report.after.stats
    table = Table("", "before", "after", title=f"{report.source} -> {report.output}")
    table.add_row("verdict", "OK" if report.before.ok else "FAIL", "OK" if report.after.ok else "FAIL")
    table.add_row("errors", ", ".join(report.before.errors) or "-", ", ".join(report.after.errors) or "-")
    table.add_row("warnings", ", ".join(report.before.warnings) or "-", ", ".join(report.after.warnings) or "-")
    for key in ("triangles", "volume_mm3", "bodies", "open_edges", "non_manifold_edges",
                "inconsistent_edges", "degenerate_faces", "duplicate_faces", "inverted_bodies",
                "self_intersecting_faces", "noise_shells"):
        table.add_row(key, f"{b.get(key) or 0:,}", f"{a.get(key) or 0:,}")
    console.print(table)
    done = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.actions.items()
                     if v and not isinstance(v, bool) and k != "weld_tolerance_mm")
    console.print(f"done: {done or 'nothing needed'}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("check")(check)
    app.command("repair")(repair)
