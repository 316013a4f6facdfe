"""Per-facet geometry in float64, computed in chunks to bound memory: area, enclosed volume per body,
normal agreement; plus ray-parity containment and exact body intersection for the multi-body checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CHUNK = 1 << 17


@dataclass
class FacetGeometry:
    area_mm2: float
    body_volume_mm3: np.ndarray  # (bodies,) signed volume enclosed by each body's facets
    degenerate: np.ndarray  # (n,) bool: area below the tolerance
    normal_disagrees: int  # stored normals pointing more than acos(mismatch_cos) away from the winding's
    normal_missing: int  # stored normals that are zero (not stored) or not finite


def facet_geometry(vertices: np.ndarray, stored_normals: np.ndarray, origin, body_of_face: np.ndarray,
                   bodies: int, min_area_mm2: float, mismatch_cos: float) -> FacetGeometry:
    """One pass over the facets. ``body_of_face`` gives each facet's body (-1: left out of volumes)."""
    n = len(vertices)
    origin = np.asarray(origin, np.float64)
    area = 0.0
    volume = np.zeros(bodies)
    degenerate = np.empty(n, bool)
    disagree = missing = 0
    for start in range(0, n, _CHUNK):
        v = vertices[start:start + _CHUNK].astype(np.float64)
        v -= origin
        x0, y0, z0 = v[:, 0, 0], v[:, 0, 1], v[:, 0, 2]
        ax, ay, az = v[:, 1, 0] - x0, v[:, 1, 1] - y0, v[:, 1, 2] - z0
        bx, by, bz = v[:, 2, 0] - x0, v[:, 2, 1] - y0, v[:, 2, 2] - z0
        cx = ay * bz - az * by
        cy = az * bx - ax * bz
        cz = ax * by - ay * bx
        twice = np.sqrt(cx * cx + cy * cy + cz * cz)
        area += 0.5 * float(twice.sum())
        degenerate[start:start + _CHUNK] = 0.5 * twice < min_area_mm2
        # v0 . (v1 x v2) == v0 . ((v1 - v0) x (v2 - v0)): the tetrahedron with the origin, times 6
        tet = (x0 * cx + y0 * cy + z0 * cz) / 6.0
        labels = body_of_face[start:start + _CHUNK]
        inside = labels >= 0
        volume += np.bincount(labels[inside], weights=tet[inside], minlength=bodies)
        s = stored_normals[start:start + _CHUNK].astype(np.float64)
        slen = np.sqrt(np.einsum("ij,ij->i", s, s))
        usable = np.isfinite(slen) & (slen > 0)
        missing += int(len(slen) - np.count_nonzero(usable))
        dot = s[:, 0] * cx + s[:, 1] * cy + s[:, 2] * cz
        disagree += int(np.count_nonzero(usable & (twice > 0) & (dot < mismatch_cos * slen * twice)))
    return FacetGeometry(area, volume, degenerate, disagree, missing)


def inside(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Which points lie inside the closed surface ``tris`` (m, 3, 3), by ray-crossing parity.

    The ray direction is slightly skewed from +z so it does not run along edges of axis-aligned meshes."""
    d = np.array([0.0123456, 0.0234567, 1.0])
    d /= np.linalg.norm(d)
    t = np.asarray(tris, np.float64)
    e1 = t[:, 1] - t[:, 0]
    e2 = t[:, 2] - t[:, 0]
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-18
    e1, e2, p, det, t0 = e1[ok], e2[ok], p[ok], det[ok], t[ok, 0]
    out = np.zeros(len(points), bool)
    for k, point in enumerate(np.asarray(points, np.float64)):
        s = point - t0
        u = np.einsum("ij,ij->i", s, p) / det
        q = np.cross(s, e1)
        v = (q @ d) / det
        dist = np.einsum("ij,ij->i", q, e2) / det
        hits = (u >= 0) & (v >= 0) & (u + v <= 1) & (dist > 0)
        out[k] = bool(np.count_nonzero(hits) % 2)
    return out


def intersection_volume(verts_a, faces_a, verts_b, faces_b) -> float | None:
    """Volume (mm^3) shared by two closed bodies, via manifold3d; None when either is not a valid solid."""
    try:
        import manifold3d
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    solids = []
    for verts, faces in ((verts_a, faces_a), (verts_b, faces_b)):
        mesh = manifold3d.Mesh(vert_properties=np.ascontiguousarray(verts, np.float32),
                               tri_verts=np.ascontiguousarray(faces, np.uint32))
        solid = manifold3d.Manifold(mesh)
        if solid.status() != manifold3d.Error.NoError:
            return None
        solids.append(solid)
    return float((solids[0] ^ solids[1]).volume())
