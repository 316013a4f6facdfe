"""`hospfab inspect`: measure a scanned printed part against its reference model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hospfab.cli.options import JsonOpt, OperatorOpt, settings
from hospfab.cli.output import CommandResult, emit
from hospfab.errors import ExitCode


def inspect(
    ctx: typer.Context,
    scan: Annotated[Path, typer.Argument(help="Scan of the printed unit: STL, PLY or OBJ (mesh or point cloud).",
                                         show_default=False)],
    against: Annotated[str, typer.Option("--against", help="Reference: REF[@REV] from the catalog, or a mesh "
                                         "file (.stl, .ply, .obj).", show_default=False)],
    tolerance: Annotated[float | None, typer.Option("--tolerance", help="Surface tolerance in mm (default: the "
                         "revision's acceptance criteria; may only tighten them).", show_default=False)] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report (heat map embedded).",
                                                show_default=False)] = None,
    heatmap: Annotated[Path | None, typer.Option("--heatmap", help="Write the deviation heat map as PNG.",
                                                 show_default=False)] = None,
    operator: OperatorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Align a scan to its reference and measure the deviations: RMS, mean, p95, max, share within
    tolerance, coverage, scale error. Flags a mirrored part, a different part, too little coverage and
    shrinkage. Exit 0 pass, 1 fail, 2 unreadable input or no tolerance.

    Example: hospfab inspect unit-37.ply --against TUBE-RACK-16@1 --tolerance 0.3 --report unit-37.html
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.inspect.run import inspect_file, load_reference

        reference = load_reference(against, config.catalog() if config.catalog_path else None)
        result = inspect_file(scan, reference, tolerance=tolerance, report=report, heatmap=heatmap,
                              inspected_by=operator)  # fmt: skip
        data = result.as_dict()
        data["report"] = str(report) if report else None
        data["heatmap"] = str(heatmap) if heatmap else None
        errors = [{"code": f["code"], "message": f"{scan}: {f['message']}"} for f in data["findings"]]
        exit_code = ExitCode.OK if result.verdict == "pass" else ExitCode.FAILED
        return CommandResult(data=data, exit_code=exit_code, errors=errors, render=lambda c: render(c, data))

    emit("inspect", json_, work)


def render(console: Any, data: dict[str, Any]) -> None:
    f = data["figures"]
    verdict = "[bold green]PASS[/]" if data["verdict"] == "pass" else "[bold red]FAIL[/]"
    console.print(f"{verdict} {data['scan']} against {data['reference']} (tolerance +/-{data['tolerance_mm']:g} mm, "
                  f"{data['tolerance_source']})", markup=True)  # fmt: skip
    console.print(f"  RMS {f['rms_mm']:.3f} mm, mean {f['mean_mm']:+.3f} mm, p95 {f['p95_mm']:.3f} mm, "
                  f"max {f['max_mm']:.3f} mm; {100 * f['within_tolerance_share']:.2f} % within tolerance")
    console.print(f"  coverage {100 * f['coverage_share']:.1f} %, scale error {f['scale_error_pct']:+.3f} %, "
                  f"{f['points']} points ({f['scan_kind']})")
    for d in data.get("dimensions", []):
        measured = f"{d['measured_mm']:.3f} mm" if d["measured_mm"] is not None else "not measured"
        nominal = d["note"]
        if d["nominal_mm"] is not None:
            nominal = f"nominal {d['nominal_mm']:g} +/- {d['tolerance_mm']:g} mm"
        console.print(f"  {d['name']}: {measured} ({nominal}): {d['status']}", markup=False)
    for name in ("report", "heatmap"):
        if data.get(name):
            console.print(f"  wrote {data[name]}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("inspect")(inspect)
