"""One inspection from files: resolve the reference (catalog revision or bare mesh), choose the tolerance,
measure, write the heat map and the report. Used by ``hospfab inspect`` and ``hospfab lots release``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.errors import InputError, IntegrityError
from hospfab.fileio import atomic_write_bytes
from hospfab.inspect.tolerances import acceptance_of

if TYPE_CHECKING:
    from hospfab.catalog.store import Catalog

MESH_SUFFIXES = (".stl", ".ply", ".obj", ".off")


@dataclass
class Reference:
    name: str  # REF@REV, or the file name
    path: Path
    triangles: Any
    sha256: str
    tolerance_mm: float | None = None
    dimensions: list[Any] = field(default_factory=list)


def load_reference(spec: str, catalog: Catalog | None = None) -> Reference:
    """``REF[@REV]`` from ``catalog`` (its model checked against the recorded sha256), or a mesh file."""
    from hospfab.inspect.scan import read_reference

    candidate = Path(spec)
    if candidate.suffix.lower() in MESH_SUFFIXES:
        triangles, digest = read_reference(candidate)
        return Reference(candidate.name, candidate, triangles, digest)
    if catalog is None:
        raise InputError(f"{spec}: no catalog to look the reference up in")
    revision = catalog.resolve(spec)
    triangles, digest = read_reference(revision.model_file)
    expected = getattr(getattr(revision.meta, "model", None), "sha256", None)
    if expected and expected != digest:
        raise IntegrityError(f"{revision.model_file}: sha256 {digest[:12]}... differs from the revision's "
                             f"{expected[:12]}...; the reference model was changed")  # fmt: skip
    acceptance = acceptance_of(revision)
    return Reference(revision.spec, revision.model_file, triangles, digest, acceptance.surface_tolerance_mm,
                     acceptance.dimensions)  # fmt: skip


def choose_tolerance(requested: float | None, reference: Reference) -> tuple[float, str]:
    """The tolerance and where it comes from. ``--tolerance`` may tighten the acceptance criteria, never
    loosen them; without either there is nothing to judge against."""
    accepted = reference.tolerance_mm
    if requested is not None:
        if not requested > 0:
            raise InputError(f"--tolerance must be above 0 mm, not {requested}")
        if accepted is not None and requested > accepted:
            raise InputError(f"--tolerance {requested:g} mm is looser than {reference.name}'s acceptance criteria "
                             f"({accepted:g} mm); only a tighter one may be given")  # fmt: skip
        return float(requested), "command line"
    if accepted is None:
        raise InputError(f"{reference.name}: no surface tolerance in its acceptance criteria "
                         f"(acceptance.surface_tolerance_mm); give --tolerance MM")  # fmt: skip
    return float(accepted), f"{reference.name} acceptance criteria"


def inspect_file(scan_path: Path, reference: Reference, *, tolerance: float | None = None,
                 report: Path | None = None, heatmap: Path | None = None, inspected_by: str | None = None,
                 seed: int = 0) -> Any:
    """Measure ``scan_path`` against ``reference``; write the heat map / report when asked."""
    from hospfab.inspect.measure import inspect_scan
    from hospfab.inspect.scan import read_scan

    tol, source = choose_tolerance(tolerance, reference)
    scan = read_scan(scan_path)
    result = inspect_scan(scan, reference.triangles, tolerance_mm=tol, reference=reference.name,
                          reference_sha256=reference.sha256, tolerance_source=source, seed=seed,
                          dimensions=reference.dimensions)  # fmt: skip
    if report is not None or heatmap is not None:
        from hospfab.inspect.heatmap import render_heatmap

        png = render_heatmap(result.display_triangles, result.display_deviation, tol,
                             title=f"{Path(scan_path).name} vs {reference.name}: {result.verdict.upper()}")
        if heatmap is not None:
            atomic_write_bytes(heatmap, png)
        if report is not None:
            from hospfab.inspect.report import write_report

            write_report(report, result, png, inspected_by=inspected_by)
    return result
