"""Every threshold of the inspection in one place, each with its unit and reason; and the one accessor that
reads a revision's machine-readable acceptance criteria."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RegistrationSettings:
    """How hard the global alignment searches (see :mod:`hospfab.inspect.align`)."""

    random_starts: int = 240  # rotations spread over SO(3), per handedness, besides the 24 PCA ones
    reference_samples: int = 20_000  # dense sample of the reference for the coarse stages
    coarse_points: int = 100  # scan points per candidate in the coarse stage
    coarse_steps: int = 6
    coarse_keep: int = 8  # distinct poses per handedness kept after the coarse stage
    shift_shares: tuple[float, ...] = (0.2, 0.4)  # kept poses also start shifted by these shares of
    shift_keep: int = 6  # the reference's extent along each principal axis; distinct poses kept after that
    medium_points: int = 1_000
    medium_steps: int = 12
    medium_keep: int = 8
    fine_points: int = 4_000  # scan points for point-to-plane ICP against the exact triangles
    fine_steps: int = 25  # point-to-plane steps against the reference sample
    exact_keep: int = 3  # ...the best of them against the exact triangles, scored on them
    exact_steps: int = 10
    fine_keep: int = 8  # poses per handedness refined against the sample...
    symmetry_step_deg: float = 5.0  # near symmetries of the reference: self-alignments started every 5 deg
    symmetry_score_share: float = 0.15  # about its principal axes that end under 15 % of the score cap
    symmetry_max: int = 24  # at most this many near symmetries (the best self-alignments)
    symmetry_points: int = 1_000  # scan points on which each symmetric image of the best pose is refined
    symmetry_keep: int = 2  # the best symmetric images refined and scored like the best pose itself
    loose_trim_share: float = 0.5  # point-to-plane ICP: the first half of the steps uses points within
    trim_share: float = 0.05  # 50 % of the score cap, the rest within 3 sigma but at least 5 % of the cap
    score_cap_share: float = 0.02  # a point counts at most 2 % of the reference diagonal in a pose score...
    score_cap_mm: tuple[float, float] = (0.5, 5.0)  # ...clipped to these bounds (mm)


@dataclass(frozen=True)
class InspectionLimits:
    """When a measured scan passes, and what alignment cannot explain."""

    min_within_share: float = 0.99  # share of the scanned surface within tolerance to pass (1 % for outliers)
    min_coverage: float = 0.40  # share of the reference surface the scan must cover (tables hide the base)
    coverage_radius_tol: float = 2.0  # a reference point is covered by a scan point within 2 x tolerance...
    coverage_radius_spacing: float = 3.0  # ...or 3 x the scan's point spacing, whichever is larger
    match_tol: float = 4.0  # a scan point "belongs" to the reference within max(4 x tolerance, match_mm)
    match_mm: float = 1.0
    min_match_share: float = 0.85  # fewer matching points after the best similarity fit: a different part
    max_scale_pct: float = 8.0  # a part that fits only scaled by more than this is another part, not shrinkage
    min_points: int = 50  # fewer scan points cannot be aligned or judged (exit 2)
    mirror_margin: float = 0.15  # mirrored fit matches this much more of the scan: a mirrored part
    max_points: int = 250_000  # larger scans: a random 250k measured (figures say so; ~0.1 % on p95, may miss max)


DEFAULT_LIMITS = InspectionLimits()


@dataclass(frozen=True)
class Acceptance:
    """The measurable acceptance criteria of a revision (what the inspection needs of them)."""

    surface_tolerance_mm: float | None
    dimensions: list[Any]


def acceptance_of(revision: Any) -> Acceptance:
    """``acceptance.surface_tolerance_mm`` and ``acceptance.dimensions`` of a catalog revision, tolerating
    their absence (older revisions, or a catalog without machine-readable criteria): then ``None`` / ``[]``.

    The single place that reads them: switch it to the catalog's own accessor when there is one.
    """
    meta = getattr(revision, "meta", revision)
    acceptance = getattr(meta, "acceptance", None)
    if acceptance is None:
        return Acceptance(None, [])
    if isinstance(acceptance, dict):
        get = acceptance.get
    else:
        def get(key: str, default: Any = None) -> Any:
            return getattr(acceptance, key, default)
    tolerance = get("surface_tolerance_mm", None)
    try:
        tolerance = float(tolerance) if tolerance is not None else None
    except (TypeError, ValueError):
        tolerance = None
    if tolerance is not None and not tolerance > 0:
        tolerance = None
    dimensions = get("dimensions", None) or []
    out = []
    for dim in dimensions:
        if hasattr(dim, "model_dump"):
            dim = dim.model_dump(mode="json")
        out.append(dim)
    return Acceptance(tolerance, out)
