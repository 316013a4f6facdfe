"""`repair`: weld, drop degenerate and duplicate facets and noise shells, fix winding and inversion, fill
small holes, and union crossing shells (manifold3d) when the part self-intersects or its bodies overlap.

The input file is never touched: the result goes to a different path (written atomically) and both are
checked, so the before/after reports say exactly what changed and whether the result now passes.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hospfab.errors import InputError
from hospfab.mesh.report import MeshReport, check_file, check_triangles
from hospfab.mesh.stlio import read_stl, write_binary_stl
from hospfab.mesh.tolerances import DEFAULT, Tolerances

if TYPE_CHECKING:
    import trimesh


@dataclass
class RepairReport:
    source: str
    output: str
    before: MeshReport
    after: MeshReport
    actions: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.after.ok

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, "ok": self.ok, "actions": self.actions,
                "before": self.before.to_dict(), "after": self.after.to_dict()}


def repair_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], tol: Tolerances = DEFAULT) -> RepairReport:
    """Repair ``src`` into ``dst`` (binary STL). Refuses to overwrite ``src``; raises MeshReadError when
    ``src`` is unreadable."""
    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise InputError(f"{dst}: refusing to overwrite the input file; choose another output path",
                         code="would_overwrite_input")
    if dst.is_dir():
        raise InputError(f"{dst}: output is a directory; give a file name", code="bad_output")
    tri = read_stl(src)
    before = check_triangles(tri, str(src), tol=tol)
    union = bool({"self_intersections", "overlapping_bodies"} & set(before.errors + before.warnings))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vertices, actions = repair_triangles(tri.vertices, tol, union=union)
    if len(vertices) == 0:
        raise InputError(f"{src}: nothing printable left after removing degenerate facets",
                         code="unrepairable")
    write_binary_stl(dst, vertices, header=f"hospfab repair of {src.name}")
    after = check_file(dst, tol=tol)
    left = after.stats.get("self_intersecting_faces") or 0
    if union and left:
        actions["self_intersections_left"] = (
            f"{left} facets still cross: a union resolves shells that cross each other, not a surface that "
            "passes through itself; fix that in CAD")
    return RepairReport(str(src), str(dst), before, after, actions)


def repair_triangles(vertices: np.ndarray, tol: Tolerances = DEFAULT, union: bool = False
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    """Repaired facets (m, 3, 3) float64 and a count of what was done. ``union``: merge crossing closed
    shells into one solid with manifold3d (a robust boolean union)."""
    import trimesh

    corners = np.asarray(vertices, np.float64).reshape(-1, 3)
    ids = weld_ids(corners, tol.repair_weld_mm)
    position = np.zeros((int(ids.max()) + 1, 3))
    position[ids] = corners
    faces = ids.reshape(-1, 3)
    exact_count = topology_exact_count(corners)
    actions = {"vertices_welded": int(exact_count - len(np.unique(ids))),
               "weld_tolerance_mm": tol.repair_weld_mm}

    mesh = trimesh.Trimesh(vertices=position, faces=faces, process=False, validate=False)
    count = len(mesh.faces)
    tri = mesh.vertices[mesh.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    mesh.update_faces(~repeated & (area >= tol.degenerate_area_mm2))
    actions["degenerate_faces_removed"] = count - len(mesh.faces)
    count = len(mesh.faces)
    mesh.update_faces(mesh.unique_faces())
    actions["duplicate_faces_removed"] = count - len(mesh.faces)
    mesh.remove_unreferenced_vertices()
    noise = _noise_faces(mesh, tol)
    actions["noise_shells_removed"] = int(len(np.unique(noise[noise >= 0]))) if len(noise) else 0
    if actions["noise_shells_removed"]:
        mesh.update_faces(noise < 0)
        mesh.remove_unreferenced_vertices()

    before_fill = len(mesh.faces)
    holes_before = _open_edge_count(mesh)
    if holes_before:
        _fill_small_holes(mesh, tol.fill_hole_max_edges)
    actions["faces_added_to_fill_holes"] = len(mesh.faces) - before_fill
    actions["open_edges_left"] = _open_edge_count(mesh)

    flipped_before = mesh.faces.copy()
    trimesh.repair.fix_winding(mesh)  # type: ignore[no-untyped-call]  # trimesh leaves it unannotated
    trimesh.repair.fix_inversion(mesh, multibody=True)
    actions["faces_reversed"] = int(np.count_nonzero(np.any(mesh.faces != flipped_before, axis=1)))
    actions["normals_rewritten"] = True
    if union:
        united = _union_shells(mesh)
        if united is not None:
            actions["shells_united"] = united[1]
            return united[0], actions
    return mesh.vertices[mesh.faces], actions


def _noise_faces(mesh: trimesh.Trimesh, tol: Tolerances) -> np.ndarray:
    """For each facet, the noise body it belongs to, or -1 (see ``Tolerances.noise_size_mm``)."""
    from hospfab.mesh import topology
    from hospfab.mesh.analysis import noise_bodies

    faces = mesh.faces
    if len(faces) == 0:
        return np.zeros(0, np.int64)
    labels = topology.components(len(mesh.vertices), np.r_[faces[:, 0], faces[:, 1]], np.r_[faces[:, 1], faces[:, 2]])
    _, body = np.unique(labels[faces[:, 0]], return_inverse=True)
    bodies = int(body.max()) + 1
    if bodies < 2:
        return np.full(len(faces), -1)
    tri = mesh.vertices[faces]
    volume = np.bincount(body, weights=np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6,
                         minlength=bodies)
    lo = np.full((bodies, 3), np.inf)
    hi = np.full((bodies, 3), -np.inf)
    for k in range(3):
        np.minimum.at(lo[:, k], np.repeat(body, 3), tri[:, :, k].reshape(-1))
        np.maximum.at(hi[:, k], np.repeat(body, 3), tri[:, :, k].reshape(-1))
    noise = noise_bodies(volume, lambda: (lo, hi), tol)
    return np.where(noise[body], body, -1)


def _union_shells(mesh: trimesh.Trimesh) -> tuple[np.ndarray, int] | None:
    """The boolean union (manifold3d) of the mesh's closed shells, and how many shells went in; None when
    there is nothing to unite or a shell is not a valid closed manifold."""
    import manifold3d

    shells = mesh.split(only_watertight=False)
    if len(shells) < 2 or not all(s.is_watertight for s in shells):
        return None
    solids = []
    for shell in shells:
        solid = manifold3d.Manifold(manifold3d.Mesh(vert_properties=np.asarray(shell.vertices, np.float32),
                                                    tri_verts=np.asarray(shell.faces, np.uint32)))
        if solid.status() != manifold3d.Error.NoError:
            return None
        solids.append(solid)
    united = manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add).to_mesh()
    positions = np.asarray(united.vert_properties, np.float64)[:, :3]
    return positions[np.asarray(united.tri_verts)], len(shells)


def weld_ids(corners: np.ndarray, tolerance_mm: float) -> np.ndarray:
    """Ids merging corners closer than ``tolerance_mm`` (chains included), via a KD-tree."""
    from scipy.spatial import cKDTree

    from hospfab.mesh import topology

    exact, count = topology.exact_weld(corners)
    position = np.empty((count, 3))
    position[exact] = corners
    pairs = cKDTree(position).query_pairs(tolerance_mm, output_type="ndarray")
    if len(pairs) == 0:
        ids: np.ndarray = exact.astype(np.int64)
        return ids
    label = topology.components(count, pairs[:, 0], pairs[:, 1])
    ids = label[exact].astype(np.int64)
    return ids


def topology_exact_count(corners: np.ndarray) -> int:
    from hospfab.mesh import topology

    return topology.exact_weld(corners)[1]


def _open_edge_count(mesh: trimesh.Trimesh) -> int:
    edges = mesh.edges_sorted
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int(np.count_nonzero(counts == 1))


def _fill_small_holes(mesh: trimesh.Trimesh, max_edges: int) -> None:
    """Close each boundary loop of at most ``max_edges`` edges with a fan around its centroid."""
    faces = mesh.faces
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    und = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(und, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.reshape(-1)] == 1]
    # a hole is walked against the facets' direction: b -> a for each boundary edge a -> b
    nxt = {}
    for a, b in boundary:
        if b in nxt:  # a vertex where two holes touch: too ambiguous to fill safely
            return
        nxt[int(b)] = int(a)
    vertices = list(map(tuple, mesh.vertices))
    new_faces = []
    seen: set[int] = set()
    for start in list(nxt):
        if start in seen:
            continue
        loop = [start]
        seen.add(start)
        while nxt.get(loop[-1]) is not None and nxt[loop[-1]] != start and len(loop) <= max_edges:
            loop.append(nxt[loop[-1]])
            seen.add(loop[-1])
        if nxt.get(loop[-1]) != start or len(loop) > max_edges or len(loop) < 3:
            continue
        if len(loop) == 3:
            new_faces.append(loop)
            continue
        center = len(vertices)
        vertices.append(tuple(mesh.vertices[loop].mean(axis=0)))
        new_faces += [[loop[i], loop[(i + 1) % len(loop)], center] for i in range(len(loop))]
    if new_faces:
        mesh.vertices = np.array(vertices)
        mesh.faces = np.vstack([faces, np.array(new_faces)])
