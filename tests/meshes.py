"""Synthetic meshes for tests and benchmarks: closed solids and each kind of defect, written as real STL files.

Facets are (n, 3, 3) float64 arrays wound counter-clockwise seen from outside (outward normals). The writers
here are independent of hospfab's own reader and writer, so the tests cross-check them.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_BOX_QUADS = [  # corners of a unit cube, each face counter-clockwise from outside
    (0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5),
]


def box(size=(10.0, 10.0, 10.0), origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    """A closed axis-aligned box: 12 facets."""
    corners = np.array([[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], float)
    corners = corners[:, [0, 1, 2]] * np.asarray(size, float) + np.asarray(origin, float)
    tris = []
    for a, b, c, d in _BOX_QUADS:
        tris += [(a, b, c), (a, c, d)]
    return corners[np.array(tris)]


def torus(faces: int = 2000, major: float = 40.0, minor: float = 10.0, center=(0.0, 0.0, 0.0),
          noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A closed torus of about ``faces`` facets (a u x v quad grid, two facets per quad). ``noise`` (mm)
    jitters every grid point, still closed, so coordinates look like a scanned or CAD-tessellated part."""
    quads = max(faces // 2, 9)
    nu = max(3, int(np.sqrt(quads * major / minor)))
    nv = max(3, quads // nu)
    u = np.linspace(0, 2 * np.pi, nu, endpoint=False)
    v = np.linspace(0, 2 * np.pi, nv, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    pts = np.stack([(major + minor * np.cos(vv)) * np.cos(uu), (major + minor * np.cos(vv)) * np.sin(uu),
                    minor * np.sin(vv)], axis=-1) + np.asarray(center, float)
    if noise:
        pts = pts + np.random.default_rng(seed).uniform(-noise, noise, pts.shape)
    i, j = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    i1, j1 = (i + 1) % nu, (j + 1) % nv
    a, b, c, d = pts[i, j], pts[i1, j], pts[i1, j1], pts[i, j1]
    t1 = np.stack([a, b, c], axis=-2).reshape(-1, 3, 3)
    t2 = np.stack([a, c, d], axis=-2).reshape(-1, 3, 3)
    return np.concatenate([t1, t2])


def flipped(tris: np.ndarray, which=None) -> np.ndarray:
    """Reverse the winding of all facets, or of the facets indexed by ``which``."""
    out = tris.copy()
    sel = slice(None) if which is None else which
    out[sel] = out[sel][:, ::-1]
    return out


def without(tris: np.ndarray, *indices: int) -> np.ndarray:
    return np.delete(tris, list(indices), axis=0)


def with_degenerate(tris: np.ndarray) -> np.ndarray:
    """Add a facet whose three corners are one existing vertex (no area)."""
    p = tris[0, 0]
    return np.concatenate([tris, np.array([[p, p, p]])])


def with_duplicate(tris: np.ndarray, index: int = 0) -> np.ndarray:
    return np.concatenate([tris, tris[index:index + 1]])


def edge_sharing_boxes(size: float = 10.0) -> np.ndarray:
    """Two closed boxes that share one edge: four facets meet there (a non-manifold edge)."""
    return np.concatenate([box((size,) * 3), box((size,) * 3, origin=(size, size, 0.0))])


def with_crack(tris: np.ndarray, offset: float = 1e-12) -> np.ndarray:
    """Shift one corner copy by ``offset`` mm: exact-match welding sees a crack, tolerance welding closes it."""
    out = tris.copy()
    out[0, 0] += offset
    return out


def write_binary(path: Path, tris: np.ndarray, normals: np.ndarray | None = None,
                 header: bytes = b"binary written by tests/meshes.py", count: int | None = None) -> Path:
    tris = np.asarray(tris, float)
    if normals is None:
        normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)
    with open(path, "wb") as fh:
        fh.write(header[:80].ljust(80, b" "))
        fh.write(struct.pack("<I", len(tris) if count is None else count))
        rec = np.zeros(len(tris), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
        rec["n"] = normals
        rec["v"] = tris
        fh.write(rec.tobytes())
    return Path(path)


def write_ascii(path: Path, tris: np.ndarray, name: str = "part") -> Path:
    lines = [f"solid {name}"]
    for t in np.asarray(tris, float):
        n = np.cross(t[1] - t[0], t[2] - t[0])
        n = n / (np.linalg.norm(n) or 1.0)
        lines.append(f"  facet normal {n[0]:.9g} {n[1]:.9g} {n[2]:.9g}\n    outer loop")
        lines += [f"      vertex {p[0]:.17g} {p[1]:.17g} {p[2]:.17g}" for p in t]
        lines.append("    endloop\n  endfacet")
    lines.append(f"endsolid {name}\n")
    Path(path).write_text("\n".join(lines))
    return Path(path)
