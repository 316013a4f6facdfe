"""First-hit ray queries against a welded mesh, through Intel Embree (the ``embreex`` binding, as trimesh uses).

Embree works in float32 with watertight triangle tests; the callers confirm every hit that matters in float64
(:mod:`hospfab.mesh.intersections`) or only need a distance at printer resolution (:mod:`hospfab.mesh.thickness`).
Building the scene costs about as much as the topology checks; it is built once, lazily, and shared.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 1 << 19  # rays per call: bounds the float32 copies


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
            self._scene = scene
        return self._scene

    def first_hits(self, origins: np.ndarray, directions: np.ndarray, lengths: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """For each ray (unit ``directions``), the facet it hits first within ``lengths`` (-1: none) and the
        distance to it (inf: none)."""
        scene = self._built()
        n = len(origins)
        prim = np.full(n, -1, np.int64)
        dist = np.full(n, np.inf)
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            out = scene.run(np.ascontiguousarray(origins[start:stop], np.float32),
                            np.ascontiguousarray(directions[start:stop], np.float32),
                            dists=np.ascontiguousarray(lengths[start:stop], np.float32), output=1)
            hit = out["geomID"] >= 0
            prim[start:stop][hit] = out["primID"][hit]
            dist[start:stop][hit] = out["tfar"][hit]
        return prim, dist
