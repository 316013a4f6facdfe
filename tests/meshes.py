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


def sphere(subdivisions: int = 4, radius: float = 20.0, center=(0.0, 0.0, 0.0)) -> np.ndarray:
    """A closed icosphere (20 x 4**subdivisions facets), from trimesh."""
    import trimesh

    return trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius).triangles + np.asarray(center, float)


def pulled_vertex_box(to=(7.0, 6.0, -5.0), size: float = 10.0) -> np.ndarray:
    """A closed box whose top corner (size, size, size) is moved to ``to``: below z = 0 it passes through
    the bottom face (a self-intersection); at z = 0 it only touches it."""
    out = box((size,) * 3)
    out[np.all(out == size, axis=2)] = to
    return out


def pushed_cap_sphere(subdivisions: int = 4, radius: float = 20.0, cap: float = 0.8, push: float = 2.3,
                      skew: float = 0.37) -> np.ndarray:
    """A sphere whose cap (z > cap * radius) is moved down by push * radius, through the far side, and
    ``skew`` mm sideways (the icosphere is symmetric: straight down, every moved edge would pass exactly
    through a vertex of the far side, a contact the strict test does not count)."""
    out = sphere(subdivisions, radius)
    top = out[:, :, 2] > cap * radius
    out[top] += [skew, skew / 2, -push * radius]
    return out


def swept_slab(path: np.ndarray, width: float = 5.0, thickness: float = 1.0) -> np.ndarray:
    """A closed slab of rectangular section (``width`` along y, ``thickness`` across the path) swept along a
    polyline ``path`` (k, 3) in the XZ plane, end caps included; wound outward."""
    path = np.asarray(path, float)
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    y = np.array([0.0, 1.0, 0.0])
    normal = np.cross(tangent, y)
    rings = np.stack([path + normal * sn * thickness / 2 + y * sy * width / 2
                      for sn, sy in ((1, 1), (1, -1), (-1, -1), (-1, 1))], axis=1)  # (k, 4, 3)
    tris = []
    for i in range(len(path) - 1):
        for j in range(4):
            a, b, c, d = rings[i, j], rings[i, (j + 1) % 4], rings[i + 1, (j + 1) % 4], rings[i + 1, j]
            tris += [(a, b, c), (a, c, d)]
    for ring, flip in ((rings[0], True), (rings[-1], False)):
        cap = [(ring[0], ring[1], ring[2]), (ring[0], ring[2], ring[3])]
        tris += [t[::-1] if flip else t for t in cap]
    out = np.array(tris)
    return out if _volume(out) > 0 else flipped(out)


def folded_strip(segments: int = 40) -> np.ndarray:
    """A 5 mm wide, 1 mm thick strip that runs 30 mm along x, bends back over itself and comes down through
    its own first half (a self-intersecting fold)."""
    first = np.stack([np.linspace(0, 30, segments), np.zeros(segments), np.zeros(segments)], axis=1)
    angle = np.linspace(-np.pi / 2, np.pi / 2, segments)[1:-1]
    bend = np.stack([30 + 5 * np.cos(angle), np.zeros_like(angle), 5 + 5 * np.sin(angle)], axis=1)
    back = np.stack([np.linspace(30, 0, segments), np.zeros(segments), np.linspace(10, -6, segments)], axis=1)
    return swept_slab(np.concatenate([first, bend, back]))


def united(*solids: np.ndarray) -> np.ndarray:
    """The boolean union of closed solids (manifold3d), as one closed body."""
    import manifold3d

    out = None
    for tris in solids:
        pts, inverse = np.unique(np.asarray(tris, float).reshape(-1, 3), axis=0, return_inverse=True)
        solid = manifold3d.Manifold(manifold3d.Mesh(vert_properties=pts.astype(np.float32),
                                                    tri_verts=inverse.reshape(-1, 3).astype(np.uint32)))
        out = solid if out is None else out + solid
    mesh = out.to_mesh()
    return np.asarray(mesh.vert_properties, float)[:, :3][np.asarray(mesh.tri_verts)]


def fin_on_base(thickness: float, height: float = 10.0) -> np.ndarray:
    """A 20 x 20 x 3 mm base with a fin ``thickness`` mm thick, 10 mm long and ``height`` mm tall on top."""
    return united(box((20.0, 20.0, 3.0)), box((thickness, 10.0, height + 1), origin=(10 - thickness / 2, 5, 2)))


def hollow_box(wall: float, size: float = 20.0) -> np.ndarray:
    """A closed box with a closed cavity: walls ``wall`` mm thick (two bodies, the inner one inward)."""
    inner = box((size - 2 * wall,) * 3, origin=(wall,) * 3)
    return np.concatenate([box((size,) * 3), flipped(inner)])


def wedge(angle_deg: float = 20.0, length: float = 20.0, depth: float = 10.0) -> np.ndarray:
    """A closed triangular prism whose knife edge has the given angle: a sharp edge, not a wall."""
    half = depth * np.tan(np.radians(angle_deg) / 2)
    profile = np.array([[0.0, 0.0], [depth, -half], [depth, half]])  # in x-z, apex at the origin
    path = None
    a, b, c = [np.array([p[0], 0.0, p[1]]) for p in profile]
    shift = np.array([0.0, length, 0.0])
    tris = [(a, c, b), (a + shift, b + shift, c + shift)]
    for u, v in ((a, b), (b, c), (c, a)):
        tris += [(u, v, v + shift), (u, v + shift, u + shift)]
    out = np.array(tris)
    del path
    return out if _volume(out) > 0 else flipped(out)


def specks(count: int = 40, size: float = 0.08, origin=(0.0, 0.0, 5.0), seed: int = 1) -> np.ndarray:
    """``count`` tiny closed tetrahedra and cubes (< 0.001 mm3 each) scattered above a 40 mm square."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        at = np.asarray(origin, float) + rng.uniform(0, 40, 3) * [1, 1, 0.1]
        if i % 2:
            out.append(box((size,) * 3, origin=at))
        else:
            p = at + np.array([[0, 0, 0], [size, 0, 0], [0, size, 0], [0, 0, size]])
            out.append(p[np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])])
    return np.concatenate(out)


def _volume(tris: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", tris[:, 0], np.cross(tris[:, 1], tris[:, 2])).sum() / 6)


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
