"""Self-intersections: facets of one body that cross each other.

Two triangles in general position cross exactly when an edge of one pierces the other, so every edge of the
mesh is cast as a ray segment (Embree's BVH is the broad phase), shrunk by a hair at both ends so that its own
vertices, where it legitimately touches its neighbours, are not hits. Each candidate hit is then confirmed in
float64 with orientation tests that demand a strict crossing: both segment ends clearly on opposite sides of
the facet's plane and the crossing point clearly inside the facet. Hence touching along a shared edge or
vertex, a vertex resting on a facet and coplanar contact are not crossings. Hits on facets that share a vertex
with the edge, on degenerate facets (reported as ``degenerate_faces``) and on other bodies (reported as
``overlapping_bodies``) are skipped, and the ray goes on past them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hospfab.mesh.raycast import RayScene

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.integer[Any]]
BoolArray = npt.NDArray[np.bool_]

_SHRINK = 1e-4  # fraction of an edge's length left out at each end
_ROUNDS = 6  # times a ray continues past a skipped hit
_EDGE_CHUNK = 1 << 15  # edges cast at a time: bounds the float64 work arrays (~5 MB)


@dataclass
class SelfIntersections:
    facets: np.ndarray  # indices (into the welded faces) of the facets that cross another facet
    locations: list[list[float]] = field(default_factory=list)  # first crossing points, mm

    @property
    def count(self) -> int:
        return int(len(self.facets))


class Search:
    """Self-intersections of the mesh ``faces`` (welded ids into ``positions``), gathered slab by slab
    (:class:`hospfab.mesh.raycast.SlabPlan`); ``skip`` marks facets to leave out (degenerate, or not in a body).
    ``touch_mm``: a segment end this close to a plane touches it."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray, body_of_face: np.ndarray, skip: np.ndarray,
                 touch_mm: float):
        self.positions, self.faces, self.body_of_face, self.skip = positions, faces, body_of_face, skip
        self.touch_mm = touch_mm
        self.a = faces.reshape(-1)  # facet edge i runs from a[i] to a[_following(i)]
        self.cast_corners = np.empty(faces.shape, bool)  # which facet edges to cast, row by facet
        closed = _closed_pairs(faces)  # each undirected edge once; open or odd meshes: every edge
        for k in range(3):
            if closed:
                np.less(faces[:, k], faces[:, (k + 1) % 3], out=self.cast_corners[:, k])
            else:
                self.cast_corners[:, k] = True
        self.cast_corners &= ~skip[:, None]
        self._found: list[tuple[IntArray, IntArray, FloatArray]] = []  # (facet edges, facets crossed, points)

    def cast(self, scene: RayScene, facets: np.ndarray | None = None) -> None:
        """Cast the edges of ``facets`` (None: every facet) against ``scene``; several threads may cast at
        once (on different facets)."""
        rows = np.arange(len(self.faces)) if facets is None else facets
        cast = (rows[:, None] * 3 + np.arange(3))[self.cast_corners[rows]]  # facet edge i: edge i % 3 of i // 3
        for lo in range(0, len(cast), _EDGE_CHUNK):
            chunk = cast[lo:lo + _EDGE_CHUNK]
            edge, facet, point = _cast_edges(scene, self.positions, self.faces, self.body_of_face, self.skip,
                                             self.a[chunk], self.a[_following(chunk)], chunk // 3, self.touch_mm)
            self._found.append((chunk[edge], facet, point))  # one append: atomic

    def result(self, max_locations: int = 5) -> SelfIntersections:
        faces, a, skip = self.faces, self.a, self.skip
        if not sum(len(found[0]) for found in self._found):
            return SelfIntersections(np.zeros(0, np.int64))
        edges, hit_facets, points = (np.concatenate([found[k] for found in self._found]) for k in range(3))
        order = np.argsort(edges, kind="stable")  # slab by slab: back to the order of one whole cast
        edges, hit_facets, points = edges[order], hit_facets[order], points[order]
        owner = edges // 3
        shell = _shell_labels(faces)  # shells that touch at a vertex but cross are overlapping bodies
        same = shell[owner] == shell[hit_facets]
        edges, owner, hit_facets, points = edges[same], owner[same], hit_facets[same], points[same]
        if len(edges) == 0:
            return SelfIntersections(np.zeros(0, np.int64))
        flagged = np.union1d(hit_facets, _facets_on_edges(faces, a[edges], a[_following(edges)]))
        flagged = flagged[~skip[flagged]]
        order = np.argsort(hit_facets, kind="stable")
        locations, seen = [], set()
        for point in points[order]:
            key = tuple(np.round(point, 0))
            if key not in seen:
                seen.add(key)
                locations.append([round(float(x), 2) + 0.0 for x in point])
            if len(locations) >= max_locations:
                break
        return SelfIntersections(flagged.astype(np.int64), locations)


def find(scene: RayScene, positions: np.ndarray, faces: np.ndarray, body_of_face: np.ndarray,
         skip: np.ndarray, touch_mm: float, max_locations: int = 5) -> SelfIntersections:
    """Crossing facets of the mesh, against one scene of the whole mesh (see :class:`Search`)."""
    search = Search(positions, faces, body_of_face, skip, touch_mm)
    search.cast(scene)
    return search.result(max_locations)


def _cast_edges(scene: RayScene, positions: FloatArray, faces: IntArray, body_of_face: IntArray,
                skip: BoolArray, a: IntArray, b: IntArray, owner: IntArray, touch_mm: float
                ) -> tuple[IntArray, IntArray, FloatArray]:
    """Cast edges a-b (of facets ``owner``) as shrunk segments; returns the indices (into a) of the edges
    that strictly cross a facet, the facets they cross and the crossing points.

    Each edge is the ray ``p + t (q - p)`` for ``_SHRINK <= t <= 1 - _SHRINK``: Embree takes the segment as
    it is (no unit direction to compute), and ``t`` says how far along the edge a hit lies."""
    p = positions[a]
    d = positions[b] - p
    live = np.flatnonzero((d[:, 0] != 0) | (d[:, 1] != 0) | (d[:, 2] != 0))
    everything = len(live) == len(a)
    start = np.full(len(a), _SHRINK)
    found_edge: list[IntArray] = []
    found_facet: list[IntArray] = []
    found_point: list[FloatArray] = []
    for round_ in range(_ROUNDS):
        if len(live) == 0:
            break
        if round_ == 0 and everything:  # every edge, from its start: no copies
            prim, t = scene.first_hits(p, d, 1 - _SHRINK, near=_SHRINK)
        else:
            prim, t = scene.first_hits(p[live], d[live], 1 - _SHRINK, near=start[live])
        hit = prim >= 0
        live, prim, t = live[hit], prim[hit], t[hit]
        if len(live) == 0:
            break
        h = faces[prim]
        shares = np.any((h == a[live, None]) | (h == b[live, None]), axis=1)
        candidate = np.flatnonzero(~shares & ~skip[prim] & (body_of_face[prim] == body_of_face[owner[live]]))
        done = np.zeros(len(live), bool)
        if len(candidate):
            e = live[candidate]
            p64 = p[e].astype(np.float64)
            q64 = positions[b[e]].astype(np.float64)
            tri = positions[faces[prim[candidate]]].astype(np.float64)
            crossing = _crosses(p64, q64, tri, touch_mm)
            ok = candidate[crossing]
            found_edge.append(live[ok])
            found_facet.append(prim[ok])
            found_point.append((p64 + (q64 - p64) * t[candidate, None])[crossing])
            done[ok] = True  # a confirmed edge is done; the others go on past what they hit
        start[live] = t + _SHRINK
        live = live[~done]
    if not found_edge:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3))
    return np.concatenate(found_edge), np.concatenate(found_facet), np.concatenate(found_point)


def _shell_labels(faces: np.ndarray) -> np.ndarray:
    """Each facet's shell: facets joined across edges that exactly two facets share."""
    from hospfab.mesh import topology

    count = int(faces.max()) + 1
    keys = topology.edge_keys(faces, count) >> 1
    order = np.argsort(keys, kind="stable")
    s = keys[order]
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    sizes = np.diff(np.r_[start, len(s)])
    pairs = start[sizes == 2]
    labels: IntArray = topology.components(len(faces), order[pairs] // 3, order[pairs + 1] // 3)
    return labels


def _following(edges: np.ndarray) -> np.ndarray:
    """The facet corner where each facet edge ends (edge i % 3 of facet i // 3 ends at the next corner)."""
    corner: IntArray = edges - edges % 3 + (edges % 3 + 1) % 3
    return corner


def _closed_pairs(faces: np.ndarray) -> bool:
    """True when as many edges run a->b with a < b as the other way (each undirected edge of a closed mesh
    appears once each way), so casting the a < b half covers every edge."""
    rising = sum(int(np.count_nonzero(faces[:, k] < faces[:, (k + 1) % 3])) for k in range(3))
    return rising * 2 == faces.size


def _facets_on_edges(faces: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every facet that has one of the undirected edges a-b."""
    count = np.int64(int(faces.max()) + 1)
    wanted = np.unique(np.minimum(a, b).astype(np.int64) * count + np.maximum(a, b))
    fa = faces.reshape(-1).astype(np.int64)
    fb = faces[:, [1, 2, 0]].reshape(-1).astype(np.int64)
    keys = np.minimum(fa, fb) * count + np.maximum(fa, fb)
    return np.unique(np.flatnonzero(np.isin(keys, wanted)) // 3)


def _crosses(p: np.ndarray, q: np.ndarray, tri: np.ndarray, touch_mm: float) -> np.ndarray:
    """Whether each segment p-q strictly crosses its triangle (k, 3, 3): its ends more than ``touch_mm`` on
    opposite sides of the plane and the crossing point more than ``touch_mm`` inside every edge."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    n = np.cross(b - a, c - a)
    norm = np.sqrt(np.einsum("ij,ij->i", n, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = n / norm[:, None]
        sp = np.einsum("ij,ij->i", p - a, unit)
        sq = np.einsum("ij,ij->i", q - a, unit)
        opposite = (np.minimum(sp, sq) < -touch_mm) & (np.maximum(sp, sq) > touch_mm)
        x = p + (q - p) * (sp / (sp - sq))[:, None]
        inside = np.ones(len(p), bool)
        for u, v in ((a, b), (b, c), (c, a)):
            edge = v - u
            elen = np.sqrt(np.einsum("ij,ij->i", edge, edge))
            dist = np.einsum("ij,ij->i", np.cross(edge, x - u), unit) / elen
            inside &= dist > touch_mm
    crossing: BoolArray = opposite & inside & (norm > 0)
    return crossing
