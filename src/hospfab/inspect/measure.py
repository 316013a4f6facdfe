"""Measure a scan against its reference: align, signed point-to-triangle deviations, figures, verdict.

Figures are weighted by the scanned surface each point stands for (see :mod:`hospfab.inspect.scan`):
RMS and mean of the signed deviations, p95 and max of their magnitude, the share within tolerance, the
share of the reference the scan covers, and the scale error of a similarity fit (negative = shrinkage).
The verdict is ``pass`` only when nothing is flagged: out of tolerance, too little coverage, scale error
beyond tolerance, a mirrored part, a different part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hospfab.errors import InputError
from hospfab.inspect.align import Pose, Registration, pose_dict
from hospfab.inspect.distance import SurfaceIndex
from hospfab.inspect.scan import Scan
from hospfab.inspect.tolerances import DEFAULT_LIMITS, InspectionLimits, RegistrationSettings

PASS, FAIL = "pass", "fail"


@dataclass
class Finding:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Inspection:
    """The outcome of one inspection: JSON-ready ``figures`` and ``findings``, plus arrays for the heat map."""

    scan: str
    scan_sha256: str
    reference: str
    reference_sha256: str
    tolerance_mm: float
    tolerance_source: str
    figures: dict[str, Any]
    findings: list[Finding]
    pose: dict[str, Any]
    dimensions: list[dict[str, Any]] = field(default_factory=list)  # named dimensions, measured or not
    display_triangles: np.ndarray | None = field(default=None, repr=False)  # the reference, finely split
    display_deviation: np.ndarray | None = field(default=None, repr=False)  # per triangle; NaN: not scanned

    @property
    def verdict(self) -> str:
        return PASS if not self.findings else FAIL

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "scan": self.scan, "scan_sha256": self.scan_sha256,
            "reference": self.reference, "reference_sha256": self.reference_sha256,
            "tolerance_mm": self.tolerance_mm, "tolerance_source": self.tolerance_source,
            "figures": self.figures, "findings": [f.as_dict() for f in self.findings], "pose": self.pose,
            "dimensions": self.dimensions,
        }  # fmt: skip


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(values) - 1)])


def _spacing(points: np.ndarray, rng: np.random.Generator, tree: Any) -> float:
    probe = points[rng.choice(len(points), size=min(2000, len(points)), replace=False)]
    dist, _ = tree.query(probe, k=2)
    return float(np.median(dist[:, 1]))


def _shares(reg: Registration, points: np.ndarray, pose: Pose, *within: float) -> list[float]:
    """Share of ``points`` (moved by ``pose``) within each distance of the reference."""
    dist = np.abs(reg.surface.closest(pose.apply(points)).distance)
    return [float((dist <= w).mean()) for w in within]


def inspect_scan(
    scan: Scan,
    triangles: np.ndarray,
    *,
    tolerance_mm: float,
    reference: str,
    reference_sha256: str,
    tolerance_source: str = "command line",
    limits: InspectionLimits = DEFAULT_LIMITS,
    settings: RegistrationSettings | None = None,
    seed: int = 0,
    dimensions: list[Any] | None = None,
) -> Inspection:
    """Align ``scan`` onto the reference ``triangles`` (n, 3, 3) and measure it; the named ``dimensions``
    of its acceptance criteria too where they can be (see :mod:`hospfab.inspect.dimensions`)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    points, weights = scan.points, scan.weights
    if len(points) < limits.min_points:
        raise InputError(f"{scan.path}: {len(points)} points; at least {limits.min_points} are needed to inspect")
    subsampled = len(points) > limits.max_points
    if subsampled:
        keep = rng.choice(len(points), size=limits.max_points, replace=False)
        points, weights = points[keep], weights[keep]
    surface = SurfaceIndex(triangles)
    reg = Registration(surface, settings, seed=seed)
    poses = reg.align(points)
    direct = poses["direct"]
    count = reg.settings.fine_points
    fine = points if len(points) <= count else points[rng.choice(len(points), count, replace=False)]
    match_within = max(limits.match_tol * tolerance_mm, limits.match_mm)
    similar = reg.refine(fine, direct, with_scale=True)
    (match_direct,) = _shares(reg, fine, similar, match_within)
    match_mirror = within_mirror = 0.0
    if "mirrored" in poses:
        (match_mirror,) = _shares(reg, fine, reg.refine(fine, poses["mirrored"], with_scale=True), match_within)
        (within_mirror,) = _shares(reg, fine, poses["mirrored"], tolerance_mm)

    moved = direct.apply(points)
    hit = surface.closest(moved)
    dev = hit.distance
    absdev = np.abs(dev)
    wsum = float(weights.sum())
    within = float(weights[absdev <= tolerance_mm].sum() / wsum)

    sub = np.arange(len(moved)) if len(moved) <= 500_000 else rng.choice(len(moved), 500_000, replace=False)
    tree = cKDTree(moved[sub])
    spacing = _spacing(moved, rng, tree)
    radius = max(limits.coverage_radius_tol * tolerance_mm, limits.coverage_radius_spacing * spacing)
    ref_dist, _ = tree.query(reg.ref_points, distance_upper_bound=radius)
    coverage = float(np.isfinite(ref_dist).mean())

    centre = (surface.centroids * surface.areas[:, None]).sum(axis=0) / surface.areas.sum()
    reach = float(np.linalg.norm(surface.triangles.reshape(-1, 3) - centre, axis=1).max())
    scale_error = 1.0 / similar.scale - 1.0  # the part's size relative to the reference, minus one
    scale_effect = abs(scale_error) * reach

    display, display_dev = _display_deviation(triangles, surface.diagonal, tree, dev[sub], radius)

    figures = {
        "points": int(len(scan.points)), "points_measured": int(len(points)), "subsampled": subsampled,
        "scan_kind": scan.kind, "area_weighted": scan.area_weighted,
        "rms_mm": float(np.sqrt((weights * dev**2).sum() / wsum)), "mean_mm": float((weights * dev).sum() / wsum),
        "p95_mm": weighted_quantile(absdev, weights, 0.95), "max_mm": float(absdev.max()),
        "min_signed_mm": float(dev.min()), "max_signed_mm": float(dev.max()),
        "within_tolerance_share": within, "coverage_share": coverage, "coverage_radius_mm": radius,
        "scan_spacing_mm": spacing, "scale_error_pct": 100.0 * scale_error, "scale_effect_mm": scale_effect,
        "matched_share": match_direct, "mirrored_matched_share": match_mirror,
        "mirrored_within_tolerance_share": within_mirror,
        "alignment_score_mm": direct.score,
        "reference_faces": surface.source_faces,
    }  # fmt: skip
    findings = _findings(figures, tolerance_mm, limits, match_within)
    measured = []
    if dimensions:
        from hospfab.inspect.dimensions import measure_dimensions

        measured = measure_dimensions(dimensions, np.asarray(triangles, dtype=np.float64), surface.parent, moved,
                                      hit.points, hit.triangle)  # fmt: skip
        if not any(f.code in ("mirrored", "different_part") for f in findings):  # else nothing to measure on
            for d in measured:
                if d.status == "fail":
                    findings.append(Finding("dimension", f"{d.name}: {d.measured_mm:.3f} mm measured, nominal "
                                                         f"{d.nominal_mm:g} +/- {d.tolerance_mm:g} mm"))  # fmt: skip
    return Inspection(str(scan.path), scan.sha256, reference, reference_sha256, tolerance_mm, tolerance_source,
                      figures, findings, pose_dict(direct), [d.as_dict() for d in measured], display,
                      display_dev)  # fmt: skip


def _display_deviation(triangles, diagonal, tree, dev, radius, max_triangles: int = 60_000):
    """The reference split finely enough to show where deviations are, each triangle with the mean signed
    deviation of the scan points (those in ``tree``, deviations ``dev``) within ``radius`` of its centre
    (NaN where nothing was scanned)."""
    from hospfab.inspect.distance import subdivide

    edge = diagonal / 60
    display, _ = subdivide(np.asarray(triangles, dtype=np.float64), edge)
    while len(display) > max_triangles and edge < diagonal:
        edge *= 1.5
        display, _ = subdivide(np.asarray(triangles, dtype=np.float64), edge)
    dist, idx = tree.query(display.mean(axis=1), k=8, distance_upper_bound=max(radius, edge))
    found = np.isfinite(dist)
    values = np.where(found, dev[np.minimum(idx, len(dev) - 1)], 0.0)
    count = found.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return display, np.where(count > 0, values.sum(axis=1) / count, np.nan)


def _findings(f: dict[str, Any], tol: float, limits: InspectionLimits, match_within: float) -> list[Finding]:
    out: list[Finding] = []
    # a mirror image that would pass where the part as scanned does not (a nearly symmetric part: the
    # propeller's mirror image is within 1.2 mm almost everywhere), or that fits far more of the scan
    fits_mirrored = (f["mirrored_within_tolerance_share"] >= limits.min_within_share
                     and f["within_tolerance_share"] < limits.min_within_share)  # fmt: skip
    mirrored = fits_mirrored or (f["mirrored_matched_share"] >= limits.min_match_share
                                 and f["mirrored_matched_share"] >= f["matched_share"] + limits.mirror_margin)  # fmt: skip
    if fits_mirrored:
        out.append(Finding("mirrored", f"mirrored part: its mirror image is within tolerance "
                                       f"({f['mirrored_within_tolerance_share']:.1%} of the scan within +/-{tol:g} mm, "
                                       f"{f['within_tolerance_share']:.1%} as scanned)"))  # fmt: skip
    elif mirrored:
        out.append(Finding("mirrored", f"mirrored part: its mirror image fits the reference "
                                       f"({f['mirrored_matched_share']:.0%} of the scan within {match_within:g} mm, "
                                       f"{f['matched_share']:.0%} as scanned)"))  # fmt: skip
    elif f["matched_share"] < limits.min_match_share:
        out.append(Finding("different_part", f"not this part: only {f['matched_share']:.0%} of the scan comes within "
                                             f"{match_within:g} mm of the reference at the best alignment"))  # fmt: skip
    elif abs(f["scale_error_pct"]) > limits.max_scale_pct:
        out.append(Finding("different_part", f"not this part: it fits the reference only when scaled by "
                                             f"{f['scale_error_pct']:+.1f} % (printing shrinks by a few %)"))  # fmt: skip
    different = bool(out) and out[-1].code == "different_part"
    if f["coverage_share"] < limits.min_coverage:
        out.append(Finding("low_coverage", f"the scan covers {f['coverage_share']:.0%} of the reference surface "
                                           f"(at least {limits.min_coverage:.0%} needed)"))  # fmt: skip
    if f["scale_effect_mm"] > tol and not mirrored and not different:
        kind = "shrinkage" if f["scale_error_pct"] < 0 else "expansion"
        out.append(Finding("scale", f"{kind} of {abs(f['scale_error_pct']):.2f} % ({f['scale_effect_mm']:.2f} mm at "
                                    f"the far end, tolerance {tol:g} mm)"))  # fmt: skip
    if f["within_tolerance_share"] < limits.min_within_share:
        out.append(Finding("out_of_tolerance", f"{1 - f['within_tolerance_share']:.1%} of the scanned surface is "
                                               f"beyond +/-{tol:g} mm (max {f['max_mm']:.2f} mm, p95 "
                                               f"{f['p95_mm']:.2f} mm)"))  # fmt: skip
    return out
