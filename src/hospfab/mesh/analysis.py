"""Measure everything the checks need from raw facets, once: welding, edges, bodies, volumes, normals.

Clean meshes take a fast path (sorts of packed int64 keys, no per-edge facet lookup); the slower detail
work (duplicate facets, shells split by non-manifold edges, exact-weld cracks, body overlaps) only runs when
the fast counts show there is something to explain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from hospfab import allocator
from hospfab.mesh import geometry, intersections, raycast, thickness, topology
from hospfab.mesh.orientation import Orientation, fits_build_volume
from hospfab.mesh.stlio import Triangles
from hospfab.mesh.tolerances import DEFAULT, Tolerances

T = TypeVar("T")


@dataclass
class MeshFacts:
    triangles: int
    format: str
    bounds_min: np.ndarray
    bounds_max: np.ndarray
    area_mm2: float
    volume_mm3: float
    welding: dict[str, Any]
    edges: topology.EdgeStats
    degenerate_faces: int
    duplicate_faces: int
    bodies: int
    shells: int
    body_volumes_mm3: list[float]
    inverted_bodies: int
    cavities: int
    overlapping_pairs: int
    overlap_pairs_tested: int
    normals_disagree: int
    normals_missing: int
    build_volume_mm: tuple[float, ...] | None = None
    orientation: Orientation | None = None
    notes: list[str] = field(default_factory=list)
    noise_shells: int = 0
    noise_volume_mm3: float = 0.0
    self_intersections: intersections.SelfIntersections | None = None
    thin_walls: thickness.ThinWalls | None = None
    facet_sets: dict[str, np.ndarray] = field(default_factory=dict)  # code -> facet indices (the picture)
    timings_s: dict[str, float] = field(default_factory=dict)
    flagged_bodies: dict[str, list[int]] = field(default_factory=dict)  # code -> body ids (the picture)

    @property
    def extents_mm(self) -> np.ndarray:
        extents: np.ndarray = self.bounds_max - self.bounds_min
        return extents

    @property
    def closed(self) -> bool:
        e = self.edges
        return e.open == 0 and e.non_manifold == 0 and e.inconsistent == 0


def analyse(tri: Triangles, build_volume_mm: Sequence[float] | None = None, tol: Tolerances = DEFAULT, min_wall_mm: float | None = None,
            detail: bool = False) -> MeshFacts:
    """Measure ``tri``. ``min_wall_mm`` turns on the thin-wall check; ``detail`` records which facets each
    defect concerns (``facet_sets``, for the picture). Work started on the second core has ended when this
    returns or raises: a process may fork right after a check."""
    started: list[Future[Any]] = []
    try:
        return _measure(tri, build_volume_mm, tol, min_wall_mm, detail, started)
    finally:
        futures.wait(started)


def _start(started: list[Future[Any]], function: Callable[..., T], *args: Any) -> Future[T]:
    """``function(*args)`` on the second core (:func:`raycast.background`), listed in ``started``."""
    future = raycast.background(function, *args)
    started.append(future)
    return future


def _take(started: list[Future[Any]], future: Future[T]) -> T:
    """The result of a future of ``started``, which then forgets it (and its result, once the caller does)."""
    started.remove(future)
    return future.result()


def _measure(tri: Triangles, build_volume_mm: Sequence[float] | None, tol: Tolerances,
             min_wall_mm: float | None, detail: bool, started: list[Future[Any]]) -> MeshFacts:
    allocator.small_pages()
    clock = _Clock()
    verts = tri.vertices
    n = len(verts)
    corners = verts.reshape(-1, 3)
    # the facets' own geometry (areas, normals, volume shares) needs no welding: it runs on a second core
    geo_terms = _start(started, _facet_terms, tri, tol)
    welded = topology.weld(corners)
    ids, vertex_count = welded.ids, welded.count
    # each vertex's coordinates, in id order, with one spare zero row after them: Embree reads float32
    # positions in place when it may read 4 bytes past the last vertex (raycast, embree.vertex_buffer)
    padded = np.zeros((vertex_count + 1, 3), corners.dtype)
    positions = padded[:-1]
    np.take(corners, welded.first, axis=0, out=positions)
    del padded
    lo, hi = geometry.bounds(positions)  # over the vertices: a fifth of the corners
    faces = ids.reshape(n, 3)

    def topology_of(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None,
                                                topology.EdgeStats]:
        repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
        keep = np.flatnonzero(~repeated) if repeated.any() else None
        kept = faces if keep is None else faces[keep]
        closed_edges = topology.closed_edge_count(kept, vertex_count)
        if closed_edges is not None:  # the common case: no per-edge counting needed
            return repeated, keep, kept, None, topology.EdgeStats(closed_edges, 0, 0, 0)
        keys = topology.edge_keys(kept, vertex_count)
        return repeated, keep, kept, keys, topology.edge_stats(keys)

    repeated, keep_index, kept, keys, edges = topology_of(faces)
    exact_open = edges.open
    merged, remap = 0, None
    if edges.open:
        assert keys is not None, "edges are counted one by one whenever one is open"
        merged, remap = topology.close_cracks(ids, positions, topology.open_edge_vertices(
            keys, vertex_count), tol.weld_mm)
        if merged:
            repeated, keep_index, kept, keys, edges = topology_of(faces)
    weld_info = {
        "method": "exact match, then vertices on open edges within tolerance_mm",
        "tolerance_mm": tol.weld_mm,
        "corners": int(n * 3),
        "exact_vertices": vertex_count,
        "welded_vertices": vertex_count - merged,
        "merged_by_tolerance": merged,
        "cracks_hidden_by_welding": max(0, exact_open - edges.open),
    }
    duplicates = 0
    if edges.non_manifold or edges.inconsistent:
        dup = duplicate_mask(kept, vertex_count)
        duplicates = int(dup.sum())
        if duplicates:
            kept = kept[~dup]
            keep_index = (np.arange(n) if keep_index is None else keep_index)[~dup]
            keys = topology.edge_keys(kept, vertex_count)
            edges = topology.edge_stats(keys)
    shells = count_shells(topology.edge_keys(kept, vertex_count)) if edges.non_manifold else None
    del keys

    # bodies: facets connected through shared vertices
    labels = topology.components(vertex_count, np.r_[kept[:, 0], kept[:, 1]], np.r_[kept[:, 1], kept[:, 2]])
    # the surface checks' slabs are planned on the second core while this one sorts out the bodies; their
    # reach is the thin-wall check's (a larger reach than the rays will need only adds facets to the
    # scenes). Not sooner: beside the edge count and the body labelling, the plan's arrays raised the peak
    # memory of a 1.3M-facet check by 25-50 MB
    slab_plan = _start(started, raycast.SlabPlan, positions, faces, float(min_wall_mm or 0.0))
    is_root = labels == np.arange(vertex_count, dtype=labels.dtype)  # each component's smallest id
    rank = np.cumsum(is_root, dtype=np.int32) - 1
    del is_root
    kept_body = rank[labels[kept[:, 0]]]
    used = np.zeros(int(rank[-1]) + 1 if len(rank) else 0, bool)
    used[kept_body] = True  # components made only of dropped facets' vertices are not bodies
    renumber = None if used.all() else np.where(used, np.cumsum(used, dtype=np.int32) - 1, -1).astype(np.int32)
    if renumber is not None:
        kept_body = renumber[kept_body]
    bodies = int(used.sum())
    vertex_body: np.ndarray | None = None
    if bodies > 1:  # each vertex's body (-1: none), for the bodies' boxes
        vertex_body = rank[labels] if renumber is None else renumber[rank[labels]]
        if remap is not None:  # a vertex merged by crack closing lies in its survivor's body
            vertex_body = vertex_body[remap]
    del labels, rank
    if keep_index is None:
        body_of_face = kept_body
    else:
        body_of_face = np.full(n, -1, np.int32)
        body_of_face[keep_index] = kept_body
    del kept_body

    geo = _take(started, geo_terms).per_body(body_of_face, bodies)
    del geo_terms  # and with it each facet's volume share
    body_volumes = geo.body_volume_mm3
    boxes = _Lazy(lambda: _body_boxes(positions, vertex_body, bodies) if bodies > 1
                  else (lo[None, :], hi[None, :]))
    noise = noise_bodies(body_volumes, boxes, tol) if bodies > 1 else np.zeros(bodies, bool)
    clock.lap("topology")
    facts = MeshFacts(
        triangles=n, format=tri.format, bounds_min=lo, bounds_max=hi,
        area_mm2=geo.area_mm2, volume_mm3=float(body_volumes.sum()),
        welding=weld_info, edges=edges, degenerate_faces=int(np.count_nonzero(repeated | geo.degenerate)),
        duplicate_faces=duplicates, bodies=bodies - int(noise.sum()),
        shells=(bodies if shells is None else shells) - int(noise.sum()),
        body_volumes_mm3=[float(v) for v in body_volumes[~noise][:50]],
        inverted_bodies=0, cavities=0, overlapping_pairs=0, overlap_pairs_tested=0,
        normals_disagree=geo.normal_disagrees, normals_missing=geo.normal_missing,
    )
    facts.noise_shells = int(noise.sum())
    facts.noise_volume_mm3 = float(np.abs(body_volumes[noise]).sum())
    if facts.closed:
        _solid_checks(facts, verts, faces, body_of_face, body_volumes, tol, boxes, ~noise)
    clock.lap("bodies")
    degenerate = repeated | geo.degenerate
    skip = degenerate | (body_of_face < 0)
    if noise.any():
        skip |= noise[np.maximum(body_of_face, 0)]
        facts.facet_sets["noise_shells"] = np.flatnonzero(noise[np.maximum(body_of_face, 0)] & (body_of_face >= 0))
    walls = min_wall_mm is not None and facts.closed and facts.inverted_bodies == 0
    wall_mm = float(min_wall_mm) if walls and min_wall_mm is not None else 0.0
    if min_wall_mm is not None and not walls:
        facts.notes.append("wall thickness not measured: the mesh is not a closed, outward solid")
    crossing = intersections.Search(positions, faces, body_of_face, skip, tol.intersection_touch_mm)
    thin = thickness.Search(positions, faces, ~skip, body_of_face, body_volumes > 0, wall_mm,
                            tol.wall_angle_deg, wall_mm ** 2) if walls else None

    def surface(slab: raycast.Slab) -> None:  # runs on two slabs at once
        with clock.stage("ray_scenes"):
            slab.scene.build()
        with clock.stage("self_intersections"):
            crossing.cast(slab.scene, slab.facets)
        if thin is not None:
            with clock.stage("thin_walls"):
                thin.cast(slab.scene, slab.facets)

    plan = _take(started, slab_plan)
    raycast.for_each_slab(plan, surface)
    del plan, slab_plan  # and with them the plan's arrays
    clock.lap("surface")
    with clock.stage("self_intersections"):
        facts.self_intersections = crossing.result()
    facts.facet_sets["self_intersections"] = facts.self_intersections.facets
    if thin is not None:
        with clock.stage("thin_walls"):
            facts.thin_walls = thin.result()
        facts.facet_sets["thin_walls"] = facts.thin_walls.facets
    clock.lap("surface")
    if detail:
        _defect_facets(facts, faces, vertex_count, degenerate, body_of_face)
    if build_volume_mm is not None:
        facts.build_volume_mm = tuple(float(x) for x in build_volume_mm)
        facts.orientation = fits_build_volume(facts.extents_mm, facts.build_volume_mm)
    facts.timings_s = clock.laps
    return facts


def _facet_terms(tri: Triangles, tol: Tolerances) -> geometry.FacetTerms:
    """:func:`geometry.facet_terms` about the centre of the facets' bounding box (the welded vertices' box:
    the same coordinates)."""
    lo, hi = geometry.bounds(tri.vertices.reshape(-1, 3))
    return geometry.facet_terms(tri.vertices, tri.normals, (lo + hi) / 2, tol.degenerate_area_mm2,
                                tol.normal_mismatch_cos)


class _Clock:
    """Wall seconds per stage: :meth:`lap` for the stages run one after the other, :meth:`stage` for those
    run on several threads at once (summed over the threads, so they add up to more than their wall time)."""

    def __init__(self) -> None:
        self._now = time.perf_counter
        self._last = self._now()
        self._lock = threading.Lock()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Add the time since the last lap to ``name``'s total."""
        now = self._now()
        self._add(name, now - self._last)
        self._last = now

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block (on this thread) to ``name``'s total."""
        start = self._now()
        try:
            yield
        finally:
            self._add(name, self._now() - start)

    def _add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.laps[name] = round(self.laps.get(name, 0.0) + seconds, 4)


class _Lazy:
    """A value computed on first call, then kept (the bodies' boxes)."""

    def __init__(self, make: Callable[[], tuple[np.ndarray, np.ndarray]]) -> None:
        self._make: Callable[[], tuple[np.ndarray, np.ndarray]] = make
        self._value: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        if self._value is None:
            self._value = self._make()
        return self._value


def noise_bodies(volumes: np.ndarray, boxes: Callable[[], tuple[np.ndarray, np.ndarray]], tol: Tolerances) -> np.ndarray:
    """Bodies too small to print: under ``noise_size_mm`` along every axis, or enclosing under
    ``noise_volume_mm3`` while under ``noise_volume_size_mm`` long. Never every body."""
    lo, hi = boxes()
    size = (hi - lo).max(axis=1)
    noise = (size < tol.noise_size_mm) | ((np.abs(volumes) < tol.noise_volume_mm3) & (size < tol.noise_volume_size_mm))
    return noise if not noise.all() else np.zeros(len(volumes), bool)


def _defect_facets(facts: MeshFacts, faces: np.ndarray, vertex_count: int, degenerate: np.ndarray,
                   body_of_face: np.ndarray) -> None:
    """Which facets each topology finding concerns, for the picture."""
    sets = facts.facet_sets
    for code, bodies in facts.flagged_bodies.items():
        sets[code] = np.flatnonzero(np.isin(body_of_face, bodies))
    if facts.inverted_bodies and "inverted_normals" not in facts.flagged_bodies:  # the single-body case
        sets["inverted_normals"] = np.flatnonzero(body_of_face >= 0)
    if facts.degenerate_faces:
        sets["degenerate_faces"] = np.flatnonzero(degenerate)
    if facts.duplicate_faces:
        sets["duplicate_faces"] = np.flatnonzero((body_of_face < 0) & ~degenerate)
    if facts.edges.open or facts.edges.non_manifold or facts.edges.inconsistent:
        live = np.flatnonzero(body_of_face >= 0)
        keys = topology.edge_keys(faces[live], vertex_count)
        und = keys >> 1
        order = np.argsort(und, kind="stable")
        s = und[order]
        start = np.r_[True, s[1:] != s[:-1]]
        run = np.cumsum(start) - 1
        size = np.bincount(run)[run]
        forward = (keys[order] & 1).astype(np.int64)
        ways = np.bincount(run, weights=forward)[run]
        facet = live[order // 3]
        for code, mask in (("open_edges", size == 1), ("non_manifold_edges", size >= 3),
                           ("inconsistent_winding", (size == 2) & (ways != 1))):
            if mask.any():
                sets[code] = np.unique(facet[mask])


def duplicate_mask(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """True for every facet that repeats an earlier facet's three vertices (either winding)."""
    s = np.sort(faces, axis=1).astype(np.uint64)
    v = np.uint64(vertex_count)
    key = ((s[:, 0] * v + s[:, 1]) * v + s[:, 2]).view(np.int64)  # wraps for huge meshes: then a hash
    ids, count = topology.group_ids(key)
    if count == len(faces):
        return np.zeros(len(faces), bool)
    first = np.full(count, len(faces), np.int64)
    np.minimum.at(first, ids, np.arange(len(faces)))
    repeats: np.ndarray = first[ids] != np.arange(len(faces))
    return repeats


def count_shells(keys: np.ndarray) -> int:
    """Facets joined across edges used by exactly two facets (non-manifold edges separate shells)."""
    und = keys >> 1
    order = np.argsort(und, kind="stable")
    s = und[order]
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    counts = np.diff(np.r_[start, len(s)])
    pairs = start[counts == 2]
    faces = len(keys) // 3
    labels = topology.components(faces, order[pairs] // 3, order[pairs + 1] // 3)
    return int(len(np.unique(labels)))


def _solid_checks(facts: MeshFacts, verts: np.ndarray, faces: np.ndarray, body_of_face: np.ndarray,
                  body_volumes: np.ndarray, tol: Tolerances, body_boxes: Callable[[], tuple[np.ndarray, np.ndarray]],
                  real: np.ndarray) -> None:
    """Inverted bodies (negative volume, not a cavity inside another body) and overlapping bodies; noise
    bodies (``real`` False) take no part."""
    if len(body_volumes) <= 1:  # no body at all when every facet was degenerate and dropped
        facts.inverted_bodies = int(len(body_volumes) == 1 and body_volumes[0] < 0)
        return
    lo, hi = body_boxes()
    pairs = _box_overlaps(lo, hi, np.flatnonzero((body_volumes > 0) & real))
    if not pairs and not np.any((body_volumes < 0) & real):
        return  # the common plate of separate parts: nothing to intersect
    order = np.argsort(body_of_face, kind="stable")
    order = order[body_of_face[order] >= 0]
    bounds = np.r_[0, np.cumsum(np.bincount(body_of_face[order], minlength=len(body_volumes)))]
    count = len(body_volumes)
    members = [order[bounds[b]:bounds[b + 1]] for b in range(count)]
    for inverted in np.flatnonzero((body_volumes < 0) & real):
        probe = verts[members[inverted][0], 0].astype(np.float64)
        hosts = [o for o in range(count) if o != inverted and body_volumes[o] > 0 and real[o]
                 and np.all(lo[o] <= probe) and np.all(probe <= hi[o])]
        if any(geometry.inside(probe[None, :], verts[members[o]])[0] for o in hosts):
            facts.cavities += 1
        else:
            facts.inverted_bodies += 1
            facts.flagged_bodies.setdefault("inverted_normals", []).append(int(inverted))
    if len(pairs) > tol.max_overlap_pairs:
        facts.notes.append(f"overlap tested on the first {tol.max_overlap_pairs} of {len(pairs)} pairs")
        pairs = pairs[: tol.max_overlap_pairs]
    for a, b in pairs:
        shared = _intersection(verts, faces, members[a], members[b])
        facts.overlap_pairs_tested += 1
        smaller = min(body_volumes[a], body_volumes[b])
        if shared is not None and shared > tol.overlap_volume_fraction * smaller:
            facts.overlapping_pairs += 1
            facts.flagged_bodies.setdefault("overlapping_bodies", []).extend([int(a), int(b)])


def _box_overlaps(lo: np.ndarray, hi: np.ndarray, candidates: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (a < b, sorted) of candidate bodies whose open boxes intersect: a sweep along x, so plates of
    thousands of parts cost no more than their neighbours along x."""
    by_x = candidates[np.argsort(lo[candidates, 0], kind="stable")]
    ends = np.searchsorted(lo[by_x, 0], hi[by_x, 0], side="left")
    pairs = []
    for i, a in enumerate(by_x):
        others = by_x[i + 1:max(i + 1, ends[i])]
        hit = others[np.all(lo[a] < hi[others], axis=1) & np.all(lo[others] < hi[a], axis=1)]
        pairs += [(int(min(a, b)), int(max(a, b))) for b in hit]
    return sorted(pairs)


def _body_boxes(positions: np.ndarray, vertex_body: np.ndarray | None, bodies: int) -> tuple[np.ndarray, np.ndarray]:
    """(bodies, 3) min and max corners of each body's bounding box, from its vertices' positions."""
    assert vertex_body is not None, "set whenever there are two bodies or more"
    lo = np.full((bodies, 3), np.inf)
    hi = np.full((bodies, 3), -np.inf)
    inside = vertex_body >= 0
    if not inside.all():
        positions, vertex_body = positions[inside], vertex_body[inside]
    for k in range(3):
        column = np.ascontiguousarray(positions[:, k], np.float64)
        np.minimum.at(lo[:, k], vertex_body, column)
        np.maximum.at(hi[:, k], vertex_body, column)
    return lo, hi


def _intersection(verts: np.ndarray, faces: np.ndarray, mem_a: np.ndarray, mem_b: np.ndarray) -> float | None:
    parts: list[np.ndarray] = []
    for m in (mem_a, mem_b):
        used, local = np.unique(faces[m], return_inverse=True)
        pos = np.zeros((len(used), 3))
        pos[local.reshape(-1)] = verts[m].reshape(-1, 3)
        parts += [pos, local.reshape(-1, 3)]
    return geometry.intersection_volume(*parts)
