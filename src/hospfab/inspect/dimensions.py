"""Named diameters of the acceptance criteria measured on the aligned scan.

A revision's acceptance criteria name dimensions (``{name, nominal_mm, tolerance_mm}``) but not where they
are, and a validated revision is never changed to add that. So a *diameter* (a name with "diameter",
"bore" or "hole") is looked for on the reference itself: the wall faces (normal square to an axis: a
coordinate or principal axis) whose centre, moved by the nominal radius along the normal, lands on one common
axis line make one circular feature (inwards: a hole or bore; outwards: a boss or cone). Only the faces whose
own radius is within the dimension's tolerance of the nominal one count (the right end of a tapered cone).

On each feature, circles are fitted (least squares, free centre, on the plane square to the axis) to the scan
points whose nearest reference triangle is one of those faces, and to those points' nearest points on the
reference. The measured diameter is the nominal one plus the difference of the two fits: the reference's own
faceting and the scan's arc coverage affect both fits alike and cancel. A feature is measured only if its
points cover at least ``min_arc_deg`` of the circle and number at least ``min_points``; a dimension found on
several features (six holes) reports the one farthest from nominal. Anything else is left to measure by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DIAMETER_WORDS = ("diameter", "bore", "hole")


@dataclass(frozen=True)
class DimensionSettings:
    """How a named diameter is found on the reference and measured on the scan."""

    wall_normal_max: float = 0.1  # a wall face's normal is within ~6 deg of square to the axis
    axis_tol_share: float = 0.05  # a face belongs to a feature if its axis point is within 5 % of radius...
    axis_tol_mm: float = 0.2  # ...plus 0.2 mm of the feature's axis
    min_area_share: float = 0.3  # a feature's faces cover 30 % of a full cylinder band of their height
    min_feature_arc_deg: float = 200.0  # a feature's faces go at least this far round (a D-bore: ~240 deg)
    min_arc_deg: float = 180.0  # the scan points on a feature cover at least half the circle
    min_points: int = 30  # ...and there are at least this many of them
    band_min_mm: float = 0.03  # points whose nearest reference point is within tolerance/2 (at least this)
    # of the nominal radius from the axis are measured (a 1:40 taper: a band of +/- 2 mm per 0.1 mm)


@dataclass
class Dimension:
    name: str
    nominal_mm: float | None  # None: the criterion gives no nominal and tolerance in mm (free text)
    tolerance_mm: float | None
    measured_mm: float | None = None
    features: int = 0  # features found on the reference
    measured_features: int = 0  # of them, covered well enough by the scan to measure
    note: str = ""
    per_feature_mm: list[float] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.measured_mm is None or self.nominal_mm is None or self.tolerance_mm is None:
            return "to measure by hand"
        return "pass" if abs(self.measured_mm - self.nominal_mm) <= self.tolerance_mm + 1e-9 else "fail"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "nominal_mm": self.nominal_mm, "tolerance_mm": self.tolerance_mm,
                "measured_mm": None if self.measured_mm is None else round(self.measured_mm, 4),
                "status": self.status, "features": self.features, "measured_features": self.measured_features,
                "per_feature_mm": [round(v, 4) for v in self.per_feature_mm], "note": self.note}  # fmt: skip


def _field(dim: Any, key: str) -> Any:
    return dim.get(key) if isinstance(dim, dict) else getattr(dim, key, None)


def is_diameter(name: str) -> bool:
    return any(word in name.lower() for word in DIAMETER_WORDS)


def circle_fit(xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares circle (algebraic fit, then Gauss-Newton on the geometric distances): centre, radius."""
    a = np.column_stack([xy, np.ones(len(xy))])
    b = (xy**2).sum(axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = sol[:2] / 2
    radius = float(np.sqrt(max(sol[2] + centre @ centre, 0.0)))
    for _ in range(10):
        rel = xy - centre
        dist = np.linalg.norm(rel, axis=1)
        unit = rel / np.maximum(dist, 1e-12)[:, None]
        jac = np.column_stack([-unit, -np.ones(len(xy))])
        step, *_ = np.linalg.lstsq(jac, -(dist - radius), rcond=None)
        centre, radius = centre + step[:2], radius + float(step[2])
        if np.abs(step).max() < 1e-9:
            break
    return centre, radius


def _basis(axis: np.ndarray) -> np.ndarray:
    """Two unit vectors square to ``axis`` (3, 2)."""
    helper = np.eye(3)[int(np.argmin(np.abs(axis)))]
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return np.column_stack([u, np.cross(axis, u)])


Feature = tuple[np.ndarray, np.ndarray, np.ndarray]  # axis direction, face indices, centre on the plane


def find_features(triangles: np.ndarray, radius: float, tolerance: float,
                  settings: DimensionSettings = DimensionSettings()) -> list[Feature]:
    """Circular features of ``radius`` (+/- ``tolerance``) on the reference: (axis direction, face indices,
    centre on the plane square to the axis, in :func:`_basis` coordinates)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    centres = triangles.mean(axis=1)
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    areas = np.linalg.norm(normals, axis=1) / 2
    normals = normals / np.maximum(2 * areas, 1e-300)[:, None]
    flat = triangles.reshape(-1, 3)
    _, vectors = np.linalg.eigh(np.cov((flat - flat.mean(axis=0)).T))
    axes: list[np.ndarray] = []
    for axis in [*np.eye(3), *vectors.T]:
        if all(abs(float(axis @ other)) < 0.999 for other in axes):
            axes.append(axis / np.linalg.norm(axis))
    join = settings.axis_tol_share * radius + settings.axis_tol_mm
    found: list[Feature] = []
    taken = np.zeros(len(triangles), dtype=bool)
    for axis in axes:
        basis = _basis(axis)
        wall = np.flatnonzero((np.abs(normals @ axis) < settings.wall_normal_max) & (areas > 0) & ~taken)
        if len(wall) < 3:
            continue
        radial = normals[wall] - np.outer(normals[wall] @ axis, axis)
        radial /= np.linalg.norm(radial, axis=1, keepdims=True)
        for sign in (1.0, -1.0):  # +: the normal points at the axis (a hole); -: away from it (a boss)
            spots = (centres[wall] + sign * radius * radial) @ basis
            pairs = cKDTree(spots).query_pairs(join, output_type="ndarray")
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(wall),) * 2)
            count, label = connected_components(graph, directed=False)
            for group in range(count):
                members = wall[label == group]
                if len(members) < 3 or taken[members].any():
                    continue
                centre, fitted = circle_fit(centres[members] @ basis)
                along = centres[members] @ axis
                own = np.linalg.norm(centres[members] @ basis - centre, axis=1)
                # the faces at the nominal radius (one end of a taper); a polygon's faces sit a little inside
                near = np.abs(own - radius) <= max(tolerance, 0.02 * radius)
                if near.sum() < 3:
                    continue
                members, along = members[near], along[near]
                height = max(float(np.ptp(along)), 1e-6)
                band = 2 * np.pi * radius * height
                if areas[members].sum() < settings.min_area_share * band and np.ptp(along) > 1e-3:
                    continue
                angles = np.arctan2(*(centres[members] @ basis - centre).T[::-1])
                if _arc_deg(angles) < settings.min_feature_arc_deg:
                    continue
                taken[members] = True
                found.append((axis, members, centre))
    return found


def _arc_deg(angles: np.ndarray) -> float:
    """Degrees of the circle covered by ``angles`` (radians): 360 minus the largest gap."""
    if len(angles) < 2:
        return 0.0
    ordered = np.sort(np.mod(angles, 2 * np.pi))
    gaps = np.diff(np.concatenate([ordered, ordered[:1] + 2 * np.pi]))
    return float(np.degrees(2 * np.pi - gaps.max()))


def measure_dimensions(dimensions: list[Any], triangles: np.ndarray, parent: np.ndarray, points: np.ndarray,
                       closest: np.ndarray, triangle: np.ndarray,
                       settings: DimensionSettings = DimensionSettings()) -> list[Dimension]:
    """Each named dimension, measured when it is a diameter found on the reference and covered by the scan.

    ``points``: the scan in the reference frame (rigid pose); ``closest``/``triangle``: their nearest points
    on the reference and the (subdivided) triangles they lie on, ``parent`` mapping those to ``triangles``."""
    out = []
    face = parent[triangle]
    for dim in dimensions:
        name = str(_field(dim, "name") or dim)
        try:
            nominal, tol = float(_field(dim, "nominal_mm")), float(_field(dim, "tolerance_mm"))
        except (TypeError, ValueError):
            out.append(Dimension(name, None, None, note="no nominal and tolerance in mm"))
            continue
        result = Dimension(name, nominal, tol)
        out.append(result)
        if not is_diameter(name):
            result.note = "not a diameter: only diameters are measured on the scan"
            continue
        features = find_features(triangles, nominal / 2, tol, settings)
        result.features = len(features)
        if not features:
            result.note = f"no circular feature of {nominal:g} mm found on the reference"
            continue
        for axis, members, centre in features:
            basis = _basis(axis)
            # the points at the nominal radius: on a taper, the band where it is the named diameter
            rho = np.linalg.norm(closest @ basis - centre, axis=1)
            mine = np.isin(face, members) & (np.abs(rho - nominal / 2) <= max(tol / 2, settings.band_min_mm))
            if mine.sum() < settings.min_points:
                continue
            scan_xy, ref_xy = points[mine] @ basis, closest[mine] @ basis
            ref_centre, ref_radius = circle_fit(ref_xy)
            if _arc_deg(np.arctan2(*(scan_xy - ref_centre).T[::-1])) < settings.min_arc_deg:
                continue
            _, scan_radius = circle_fit(scan_xy)
            result.per_feature_mm.append(nominal + 2 * (scan_radius - ref_radius))
        result.measured_features = len(result.per_feature_mm)
        if result.per_feature_mm:
            values = np.array(result.per_feature_mm)
            result.measured_mm = float(values[np.argmax(np.abs(values - nominal))])
            result.note = (f"{result.measured_features} of {result.features} features measured; the one "
                           f"farthest from nominal reported")
        else:
            result.note = f"{result.features} features found, none scanned enough to measure"
    return out
