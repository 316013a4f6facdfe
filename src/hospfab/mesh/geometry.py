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


def bounds(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min and max corners (float64) of ``points`` (m, 3), column by column: numpy's axis-0 min over rows is
    slower."""
    lo = np.array([points[:, k].min() for k in range(3)], np.float64)
    hi = np.array([points[:, k].max() for k in range(3)], np.float64)
    return lo, hi


@dataclass
class FacetTerms:
    """What :func:`facet_terms` measures on the facets alone (no welding, no bodies needed)."""

    area_mm2: float
    tetra_mm3: np.ndarray  # (n,) float64: signed volume of each facet's tetrahedron with the origin
    degenerate: np.ndarray
    normal_disagrees: int
    normal_missing: int

    def per_body(self, body_of_face: np.ndarray, bodies: int) -> FacetGeometry:
        """Sum the tetrahedra by body (``body_of_face``: -1 leaves a facet out of the volumes)."""
        inside = body_of_face >= 0
        if inside.all():
            volume = np.bincount(body_of_face, weights=self.tetra_mm3, minlength=bodies)
        else:
            volume = np.bincount(body_of_face[inside], weights=self.tetra_mm3[inside], minlength=bodies)
        return FacetGeometry(self.area_mm2, volume, self.degenerate, self.normal_disagrees, self.normal_missing)


def facet_terms(vertices: np.ndarray, stored_normals: np.ndarray, origin: np.ndarray, min_area_mm2: float,
                mismatch_cos: float) -> FacetTerms:
    """Area, degenerate facets, stored normals' agreement and each facet's share of the enclosed volume, in
    one pass over the facets (so it can run beside the welding, on another thread).

    Each chunk is copied once, transposed, into nine contiguous float64 rows (x0 y0 z0 x1 ... z2), and all
    arithmetic runs in place in a few preallocated rows: no strided reads, no per-operation allocations."""
    n = len(vertices)
    origin = np.asarray(origin, np.float64)
    area = 0.0
    tetra = np.empty(n)
    degenerate = np.empty(n, bool)
    disagree = missing = 0
    size = min(n, _CHUNK)
    rows = np.empty((9, size))
    work = np.empty((6, size))
    normal = np.empty((3, size))
    flat = vertices.reshape(n, 9)
    shift = np.tile(origin, 3)[:, None]
    for start in range(0, n, _CHUNK):
        k = min(_CHUNK, n - start)
        v = rows[:, :k]
        v[...] = flat[start:start + k].T
        v -= shift
        x0, y0, z0 = v[0], v[1], v[2]
        for corner in (3, 6):  # edges from corner 0, in place
            np.subtract(v[corner:corner + 3], v[0:3], out=v[corner:corner + 3])
        ax, ay, az, bx, by, bz = v[3], v[4], v[5], v[6], v[7], v[8]
        w = work[:, :k]
        cx, cy, cz, twice, tmp, tet = w
        np.multiply(ay, bz, out=cx)
        cx -= np.multiply(az, by, out=tmp)
        np.multiply(az, bx, out=cy)
        cy -= np.multiply(ax, bz, out=tmp)
        np.multiply(ax, by, out=cz)
        cz -= np.multiply(ay, bx, out=tmp)
        np.multiply(cx, cx, out=twice)
        twice += np.multiply(cy, cy, out=tmp)
        twice += np.multiply(cz, cz, out=tmp)
        np.sqrt(twice, out=twice)
        area += 0.5 * float(twice.sum())
        np.multiply(twice, 0.5, out=tmp)
        np.less(tmp, min_area_mm2, out=degenerate[start:start + k])
        # v0 . (v1 x v2) == v0 . ((v1 - v0) x (v2 - v0)): the tetrahedron with the origin, times 6
        np.multiply(x0, cx, out=tet)
        tet += np.multiply(y0, cy, out=tmp)
        tet += np.multiply(z0, cz, out=tmp)
        np.divide(tet, 6.0, out=tetra[start:start + k])
        s = normal[:, :k]
        s[...] = stored_normals[start:start + k].T
        slen = np.sqrt(np.einsum("ji,ji->i", s, s))
        usable = np.isfinite(slen) & (slen > 0)
        missing += int(k - np.count_nonzero(usable))
        dot = np.multiply(s[0], cx, out=tet)
        dot += np.multiply(s[1], cy, out=tmp)
        dot += np.multiply(s[2], cz, out=tmp)
        usable &= twice > 0
        slen *= mismatch_cos
        slen *= twice
        disagree += int(np.count_nonzero(usable & (dot < slen)))
    return FacetTerms(area, tetra, degenerate, disagree, missing)


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


def intersection_volume(verts_a: np.ndarray, faces_a: np.ndarray, verts_b: np.ndarray,
                        faces_b: np.ndarray) -> float | None:
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
