"""First-hit ray queries against a welded mesh, through Intel Embree (the ``embreex`` binding, as trimesh uses).

Embree works in float32 with watertight triangle tests; the callers confirm every hit that matters in float64
(:mod:`hospfab.mesh.intersections`) or only need a distance at printer resolution (:mod:`hospfab.mesh.thickness`).
Embree's BVH takes about 100 bytes a facet, more than the mesh itself, so a large mesh is cut into slabs
along its longest axis (:func:`slabs`): each slab's scene holds the facets whose boxes reach the slab's rays,
is built once, serves every check that casts rays from that slab, and is freed before the next one is built.
Embree queries are thread-safe and the binding releases the GIL, so large batches run on two threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_CHUNK = 1 << 17  # rays per call: bounds the float32 copies
_THREADS = 2
_MIN_SHARE = 1 << 12  # fewer rays than this per thread: not worth a thread
SLAB_FACETS = 1 << 16  # facets whose rays one scene serves: bounds the BVH whatever the mesh size


class RayScene:
    """A BVH over ``faces`` (m, 3) int indices into ``positions`` (v, 3), built on first use; ``ids`` (m,)
    are the facets' numbers reported by :meth:`first_hits` (default: their rows)."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray, ids: np.ndarray | None = None):
        self.positions = positions
        self.faces = faces
        self.ids = ids
        self._scene = None

    def build(self) -> None:
        if self._scene is None:
            from embreex import mesh_construction, rtcore_scene

            scene = rtcore_scene.EmbreeScene()
            mesh_construction.TriangleMesh(scene, np.ascontiguousarray(self.positions, np.float32),
                                           np.ascontiguousarray(self.faces, np.int32))
            one = np.zeros((1, 3), np.float32)
            scene.run(one, one + 1, dists=np.zeros(1, np.float32))  # commits (builds the BVH) once, here
            self._scene = scene
        return self._scene

    def first_hits(self, origins: np.ndarray, directions: np.ndarray, lengths: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """For each ray (unit ``directions``), the facet it hits first within ``lengths`` (-1: none) and the
        distance to it (inf: none)."""
        n = len(origins)
        prim = np.full(n, -1, np.int64)
        dist = np.full(n, np.inf)
        if n == 0 or len(self.faces) == 0:
            return prim, dist
        scene = self.build()

        step = min(_CHUNK, max(_MIN_SHARE, -(-n // _THREADS)))  # both threads busy on mid-sized batches

        def cast(start: int) -> None:
            stop = min(n, start + step)
            out = scene.run(np.ascontiguousarray(origins[start:stop], np.float32),
                            np.ascontiguousarray(directions[start:stop], np.float32),
                            dists=np.ascontiguousarray(lengths[start:stop], np.float32), output=1)
            hit = out["geomID"] >= 0
            found = out["primID"][hit]
            prim[start:stop][hit] = found if self.ids is None else self.ids[found]
            dist[start:stop][hit] = out["tfar"][hit]

        starts = range(0, n, step)
        if len(starts) == 1:
            cast(0)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(_THREADS) as pool:
                list(pool.map(cast, starts))
        return prim, dist


@dataclass
class Slab:
    scene: RayScene
    facets: np.ndarray | None  # the facets whose rays this scene serves (None: every facet)


def slabs(positions: np.ndarray, faces: np.ndarray, reach_mm: float, max_facets: int | None = None
          ) -> Iterator[Slab]:
    """Cut the mesh into slabs of at most ``max_facets`` facets (by centroid, along the longest axis); each
    slab's scene holds every facet whose box comes within ``reach_mm`` of the slab's facets' boxes, so a ray
    that starts on one of its facets and travels at most ``reach_mm`` beyond that facet's box meets exactly
    the facets it would meet in the whole mesh. Scenes are yielded one at a time: keep none of them."""
    n = len(faces)
    max_facets = SLAB_FACETS if max_facets is None else max_facets
    if n <= max_facets:
        yield Slab(RayScene(positions, faces), None)
        return
    extent = positions.max(axis=0) - positions.min(axis=0)
    axis = int(np.argmax(extent))
    column = np.ascontiguousarray(positions[:, axis])
    first, second, third = (np.take(column, faces[:, k]) for k in range(3))
    lo = np.minimum(np.minimum(first, second), third)
    hi = np.maximum(np.maximum(first, second), third)
    centre = first + second + third
    del first, second, third
    count = -(-n // max_facets)
    order = np.argsort(centre, kind="stable").astype(np.int32)  # slab k serves order[bounds[k]:bounds[k + 1]]
    bounds = np.linspace(0, n, count + 1).round().astype(np.int64)
    # reach, float32 rounding of the coordinates Embree sees, and a margin: a facet kept by mistake costs nothing
    slack = reach_mm + 1e-3 + 1e-6 * float(np.abs(positions).max())
    # candidates for a slab's scene: facets whose centre lies within ``wide`` of the slab's range, plus the
    # few facets longer than ``span`` (slivers), tested one by one: each slab costs its own size, not the mesh's
    extent = hi - lo
    span = float(np.quantile(extent, 0.99)) * 3
    wide = span + slack
    long_facets = np.flatnonzero(extent > span)
    sorted_centre = centre[order] / 3
    del centre, extent
    used = np.zeros(len(positions), bool)
    for k in range(count):
        mine = np.sort(order[bounds[k]:bounds[k + 1]])
        if len(mine) == 0:
            continue
        low, high = lo[mine].min() - slack, hi[mine].max() + slack
        first, last = np.searchsorted(sorted_centre, [low - wide, high + wide], side="left")
        near = np.concatenate([order[first:last], long_facets])
        near.sort()
        near = near[np.r_[True, near[1:] != near[:-1]]]
        near = near[(hi[near] >= low) & (lo[near] <= high)]
        sub = faces[near]
        used[:] = False
        used[sub] = True
        local = np.cumsum(used, dtype=np.int32) - 1
        yield Slab(RayScene(positions[used], local[sub], near), mine)
