"""Synthetic scans of printed parts, made from a reference mesh (no real scans ship with the project).

A scanner sees the part lying on its table in its own coordinates: the base is hidden, some regions are in
shadow, every point carries noise along the surface normal, and the mesh it writes is tessellated its own
way. ``make_scan`` reproduces that from the reference triangles, with optional defects applied to the
*part* before it is scanned: uniform shrinkage, a warped corner, a missing feature (a hole filled in), a
mirror image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SyntheticScan:
    points: np.ndarray  # scanner coordinates
    faces: np.ndarray | None
    rotation: np.ndarray  # reference -> scanner
    translation: np.ndarray

    def write(self, path) -> None:
        import trimesh

        if self.faces is None:
            trimesh.PointCloud(self.points).export(path)
        else:
            trimesh.Trimesh(self.points, self.faces, process=False).export(path)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def _fine_mesh(triangles: np.ndarray, edge: float) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    mesh = trimesh.Trimesh(**trimesh.triangles.to_kwargs(triangles), process=True)
    vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=edge, max_iter=12)
    return np.asarray(vertices), np.asarray(faces)


def defective(triangles: np.ndarray, *, shrink: float = 0.0, warp_mm: float = 0.0, mirror: bool = False,
              fill_hole: tuple[float, float, float] | None = None,
              bump: tuple[np.ndarray, float, np.ndarray] | None = None) -> np.ndarray:
    """The reference as a faulty printer would make it (triangles in reference coordinates). ``bump``:
    (centre, radius, offset): the surface within ``radius`` of ``centre`` moved by ``offset``, fading out
    towards the radius (a blade tip lifted)."""
    tri = triangles.copy()
    if fill_hole is not None:  # a missing feature: the hole at (x, y) of radius r was not made
        from manifold3d import Manifold, Mesh

        import trimesh

        mesh = trimesh.Trimesh(**trimesh.triangles.to_kwargs(tri), process=True)
        solid = Manifold(Mesh(vert_properties=np.asarray(mesh.vertices, np.float32),
                              tri_verts=np.asarray(mesh.faces, np.uint32)))  # fmt: skip
        x, y, r = fill_hole
        lo, hi = tri.reshape(-1, 3).min(axis=0), tri.reshape(-1, 3).max(axis=0)
        plug = Manifold.cylinder(hi[2] - lo[2], r, circular_segments=48).translate([x, y, lo[2]])
        out = (solid + plug).to_mesh()
        verts = np.asarray(out.vert_properties, np.float64)[:, :3]
        tri = verts[np.asarray(out.tri_verts, np.int64)]
    flat = tri.reshape(-1, 3)
    centre = flat.mean(axis=0)
    if shrink:
        flat = centre + (flat - centre) * (1 - shrink)
    if warp_mm:  # the corner at min x, min y lifts off the bed, fading out over 40 % of the length
        lo, hi = flat.min(axis=0), flat.max(axis=0)
        reach = 0.4 * float(np.linalg.norm(hi[:2] - lo[:2]))
        d = np.linalg.norm(flat[:, :2] - lo[:2], axis=1)
        flat = flat.copy()
        flat[:, 2] += warp_mm * np.clip(1 - d / reach, 0, 1) ** 2
    if bump is not None:
        at, radius, offset = bump
        fade = np.clip(1 - np.linalg.norm(flat - np.asarray(at), axis=1) / radius, 0, 1) ** 2
        flat = flat + fade[:, None] * np.asarray(offset, dtype=np.float64)
    if mirror:
        flat = flat * np.array([-1.0, 1.0, 1.0])
        tri = flat.reshape(-1, 3, 3)[:, ::-1]
        return tri
    return flat.reshape(-1, 3, 3)


def make_scan(triangles: np.ndarray, rng: np.random.Generator, *, points: int = 3000, noise_mm: float = 0.03,
              mesh: bool = False, shadow: float = 0.12, pose: bool = True, keep_base: bool = False) -> SyntheticScan:
    """A scan of the part ``triangles``: base hidden, a shadowed region dropped, noise, random pose."""
    flat = triangles.reshape(-1, 3)
    diag = float(np.linalg.norm(flat.max(axis=0) - flat.min(axis=0)))
    if mesh:
        area = float(np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]),
                                    axis=1).sum() / 2)  # fmt: skip
        edge = max(np.sqrt(2.0 * area / max(points, 1)) * 1.2, diag / 200)
        verts, faces = _fine_mesh(triangles, edge)
        import trimesh

        normals = trimesh.Trimesh(verts, faces, process=False).vertex_normals
        pts = verts + normals * rng.normal(0, noise_mm, size=(len(verts), 1))
        centres = pts[faces].mean(axis=1)
        face_n = trimesh.Trimesh(verts, faces, process=False).face_normals
        keep = _visible(centres, face_n, flat, diag, rng, shadow, keep_base)
        faces = faces[keep]
        used = np.unique(faces)
        remap = -np.ones(len(pts), dtype=np.int64)
        remap[used] = np.arange(len(used))
        pts, faces = pts[used], remap[faces]
    else:
        areas = np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1)
        normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        which = rng.choice(len(triangles), size=int(points * 1.6), p=areas / areas.sum())
        u, v = rng.random(len(which)), rng.random(len(which))
        flip = u + v > 1
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        t = triangles[which]
        pts = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
        pts += normals[which] * rng.normal(0, noise_mm, size=(len(pts), 1))
        keep = _visible(pts, normals[which], flat, diag, rng, shadow, keep_base)
        pts, faces = pts[keep][:points], None
    rot = random_rotation(rng) if pose else np.eye(3)
    trans = rng.uniform(-100, 100, size=3) if pose else np.zeros(3)
    return SyntheticScan(pts @ rot.T + trans, faces, rot, trans)


def _visible(pts, normals, flat, diag, rng, shadow, keep_base) -> np.ndarray:
    keep = np.ones(len(pts), dtype=bool)
    if not keep_base:  # lying on the table: the downward faces at the bottom are not seen
        bottom = flat[:, 2].min()
        keep &= ~((normals[:, 2] < -0.7) & (pts[:, 2] < bottom + 0.05 * diag))
    if shadow:  # one region in shadow
        centre = pts[rng.integers(len(pts))]
        keep &= np.linalg.norm(pts - centre, axis=1) > shadow * diag
    return keep
