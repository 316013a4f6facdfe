"""First-hit ray queries against a welded mesh, through Intel Embree (the ``embreex`` binding, as trimesh uses).

Embree works in float32 with watertight triangle tests; the callers confirm every hit that matters in float64
(:mod:`hospfab.mesh.intersections`) or only need a distance at printer resolution (:mod:`hospfab.mesh.thickness`).
Building the scene costs about as much as the topology checks (embreex copies the arrays element by element,
then Embree builds its BVH on the first query); it is built once, lazily, and shared. Embree queries are
thread-safe and the binding releases the GIL, so large batches run on two threads.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 1 << 17  # rays per call: bounds the float32 copies
_THREADS = 2


class RayScene:
    """A BVH over ``faces`` (m, 3) int indices into ``positions`` (v, 3), built on first use."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray):
        self.positions = positions
        self.faces = faces
        self._scene = None

    def _built(self):
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
        scene = self._built()

        def cast(start: int) -> None:
            stop = min(n, start + _CHUNK)
            out = scene.run(np.ascontiguousarray(origins[start:stop], np.float32),
                            np.ascontiguousarray(directions[start:stop], np.float32),
                            dists=np.ascontiguousarray(lengths[start:stop], np.float32), output=1)
            hit = out["geomID"] >= 0
            prim[start:stop][hit] = out["primID"][hit]
            dist[start:stop][hit] = out["tfar"][hit]

        starts = range(0, n, _CHUNK)
        if len(starts) == 1:
            cast(0)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(_THREADS) as pool:
                list(pool.map(cast, starts))
        return prim, dist
