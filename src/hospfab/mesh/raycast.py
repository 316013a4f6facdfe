"""First-hit ray queries against a welded mesh, through Intel Embree.

Embree is reached directly (:mod:`hospfab.mesh.embree`: the library bundled in the ``embreex`` wheel, bound
with ctypes, reading the mesh's arrays in place), or through the ``embreex`` binding as trimesh uses it when
that library cannot be loaded; both give the same first hits. Embree works in float32 with watertight
triangle tests; the callers confirm every hit that matters in float64 (:mod:`hospfab.mesh.intersections`)
or only need a distance at printer resolution (:mod:`hospfab.mesh.thickness`). Embree's BVH takes about
100 bytes a facet, more than the mesh itself, so a large mesh is cut into slabs along its longest axis
(:class:`SlabPlan`): each slab's scene holds the facets whose boxes reach the slab's rays, serves every check
that casts rays from that slab, and is freed once they are done. :func:`for_each_slab` works on two slabs at once,
one per core: each worker builds its slab's scene and casts its rays on its own, so that the numpy work
around the queries runs beside the other worker's Embree calls (both release the GIL); at most four slabs
exist at a time, two of them with a scene. A mesh small enough for one scene has its large ray batches
split between two threads instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from hospfab import allocator
from hospfab.mesh import embree, geometry

_CHUNK = 1 << 17  # rays per embreex call: bounds the float32 copies
_NATIVE_CHUNK = 1 << 13  # rays per packet buffer (~0.9 MB) of the direct path
_THREADS = 2
_MIN_SHARE = 1 << 12  # fewer rays than this per thread: not worth a thread
SLAB_FACETS = 1 << 16  # facets whose rays one scene serves: bounds the BVH whatever the mesh size
_PLAN_CHUNK = 1 << 16  # facets measured at a time while planning slabs

Engine = Literal["auto", "native", "embreex"]
T = TypeVar("T")


class RayScene:
    """A BVH over ``faces`` (m, 3) int indices into ``positions`` (v, 3), built on first use; ``ids`` (m,)
    are the facets' numbers reported by :meth:`first_hits` (default: their rows). ``engine``: "native" (the
    bundled Embree through ctypes), "embreex", or "auto" (native when it loads). ``threads``: how many
    threads a large batch of rays is split between (1 when the caller already keeps every core busy)."""

    def __init__(self, positions: npt.NDArray[Any], faces: npt.NDArray[Any],
                 ids: npt.NDArray[Any] | None = None, engine: Engine = "auto",
                 vertices: npt.NDArray[np.float32] | None = None):
        self.positions = positions
        self.faces = faces
        self.ids = ids
        self.engine = engine
        self.vertices = vertices  # positions as :func:`embree.vertex_buffer`, shared by a mesh's scenes
        self.threads = _THREADS
        self._native: embree.Scene | None = None
        self._embreex: Any = None
        self._lock = threading.Lock()

    def build(self) -> None:
        """Build the BVH (once; thread-safe)."""
        with self._lock:
            if self._native is None and self._embreex is None:
                self._build()

    def _build(self) -> None:
        library = embree.library() if self.engine != "embreex" else None
        if library is not None:
            vertices = embree.vertex_buffer(self.positions) if self.vertices is None else self.vertices
            self._native = embree.Scene(library, vertices, self.faces)
            return
        if self.engine == "native":
            raise embree.RayCastError("the Embree library bundled with embreex cannot be loaded")
        # embreex ships no type information
        from embreex import mesh_construction, rtcore_scene  # type: ignore[import-untyped]

        scene = rtcore_scene.EmbreeScene()
        mesh_construction.TriangleMesh(scene, np.ascontiguousarray(self.positions, np.float32),
                                       np.ascontiguousarray(self.faces, np.int32))
        one = np.zeros((1, 3), np.float32)
        scene.run(one, one + 1, dists=np.zeros(1, np.float32))  # commits (builds the BVH) once, here
        self._embreex = scene

    def first_hits(self, origins: npt.NDArray[np.floating], directions: npt.NDArray[np.floating],
                   lengths: npt.NDArray[np.floating] | float, near: npt.NDArray[np.floating] | float = 0.0
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """For each ray ``origins + t * directions``, the facet it hits first with ``near <= t <= lengths``
        (each per ray, or one value for all; -1: no hit) and that ``t`` (inf: none); with unit directions, a
        distance."""
        n = len(origins)
        prim = np.full(n, -1, np.int64)
        dist = np.full(n, np.inf)
        if n == 0 or len(self.faces) == 0:
            return prim, dist
        self.build()
        native = self._native
        chunk = _CHUNK if native is None else _NATIVE_CHUNK
        step = min(chunk, max(_MIN_SHARE, -(-n // self.threads)))  # both threads busy on mid-sized batches

        def cast(start: int) -> None:
            stop = min(n, start + step)
            low = near[start:stop] if isinstance(near, np.ndarray) else near
            high = lengths[start:stop] if isinstance(lengths, np.ndarray) else lengths
            if native is not None:
                geom, found, far = native.intersect(origins[start:stop], directions[start:stop], low, high)
                hit = geom != embree.INVALID_ID
            else:  # embreex casts from t = 0: move the origins to ``near``
                o, d = origins[start:stop], directions[start:stop]
                low = np.broadcast_to(np.asarray(low, np.float64), (stop - start,))
                length = np.broadcast_to(np.asarray(high, np.float64), (stop - start,))
                if np.any(low):
                    o, length = o + d * low[:, None], np.maximum(length - low, 0)
                out = self._embreex.run(np.ascontiguousarray(o, np.float32),
                                        np.ascontiguousarray(d, np.float32),
                                        dists=np.ascontiguousarray(length, np.float32), output=1)
                hit = out["geomID"] >= 0
                found, far = out["primID"], out["tfar"] + low
            found = found[hit].astype(np.int64)
            prim[start:stop][hit] = found if self.ids is None else self.ids[found]
            dist[start:stop][hit] = far[hit]

        starts = range(0, n, step)
        if self.threads == 1:
            for start in starts:
                cast(start)
            return prim, dist
        others = [_workers().submit(cast, start) for start in starts[1:]]  # the calling thread casts too
        try:
            cast(starts[0])
        finally:
            for job in others:
                job.result()
        return prim, dist


@lru_cache(maxsize=1)
def _workers() -> ThreadPoolExecutor:
    """The threads, one per core, started once per process, that work on slabs (:func:`for_each_slab`), cast
    a one-scene mesh's ray batches beside the calling thread (a check makes a hundred batches) and run
    :func:`background` work. Nothing running on them waits for other work of theirs: a slab's scene casts
    on its own thread (``RayScene.threads`` 1)."""
    allocator.one_heap()
    return ThreadPoolExecutor(_THREADS, thread_name_prefix="hospfab-workers")


def background(function: Callable[..., T], *args: Any) -> Future[T]:
    """Run ``function(*args)`` on a worker while the caller goes on (work that needs a core of its own,
    such as the facets' geometry during the welding); it must not wait for other work of these threads."""
    return _workers().submit(function, *args)


def _forget_threads() -> None:
    """In a forked child: the cached pool's threads stayed in the parent, and a pool whose threads are gone
    takes work that never runs (a check would wait forever). The child starts a pool of its own."""
    _workers.cache_clear()


if hasattr(os, "register_at_fork"):  # POSIX; multiprocessing, mutmut and servers that fork after a check
    os.register_at_fork(after_in_child=_forget_threads)


@dataclass
class Slab:
    scene: RayScene
    facets: np.ndarray | None  # the facets whose rays this scene serves (None: every facet)


class SlabPlan:
    """How a mesh is cut into slabs of at most ``max_facets`` facets (by centroid, along the longest axis);
    each slab's scene holds every facet whose box comes within ``reach_mm`` of the slab's facets' boxes, so a
    ray that starts on one of its facets and travels at most ``reach_mm`` beyond that facet's box meets
    exactly the facets it would meet in the whole mesh (a larger reach than the rays need only adds facets).
    Planning sorts the facets along the axis (a tenth of a second on a million facets, worth doing on another
    core while the topology is worked out); iterating cuts the slabs as they are asked for, their scenes not
    built yet (the first query builds one): keep none of them."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray, reach_mm: float,
                 max_facets: int | None = None):
        self.positions, self.faces = positions, faces
        n = len(faces)
        max_facets = SLAB_FACETS if max_facets is None else max_facets
        self.count = 1 if n <= max_facets else -(-n // max_facets)
        if self.count == 1:
            return
        low_corner, high_corner = geometry.bounds(positions)
        axis = int(np.argmax(high_corner - low_corner))
        column = np.ascontiguousarray(positions[:, axis])
        # each facet's extent and centroid (times 3) along the axis, in chunks: no full-size temporaries
        self.lo, self.hi, centre = (np.empty(n, column.dtype) for _ in range(3))
        for start in range(0, n, _PLAN_CHUNK):
            first, second, third = (np.take(column, faces[start:start + _PLAN_CHUNK, k]) for k in range(3))
            lo, hi, mid = (out[start:start + _PLAN_CHUNK] for out in (self.lo, self.hi, centre))
            np.minimum(np.minimum(first, second, out=lo), third, out=lo)
            np.maximum(np.maximum(first, second, out=hi), third, out=hi)
            np.add(np.add(first, second, out=mid), third, out=mid)
        del column
        self.order = np.argsort(centre).astype(np.int32)  # slab k serves order[bounds[k]:bounds[k + 1]]
        self.bounds = np.linspace(0, n, self.count + 1).round().astype(np.int64)
        # reach, float32 rounding of the coordinates Embree sees, and a margin: a facet kept by mistake costs
        # nothing
        self.slack = reach_mm + 1e-3 + 1e-6 * float(np.abs(np.r_[low_corner, high_corner]).max())
        # candidates for a slab's scene: facets whose centre lies within ``wide`` of the slab's range, plus
        # the few facets longer than ``span`` (slivers), tested one by one: each slab costs its own size, not
        # the mesh's
        self.sorted_centre = np.take(centre, self.order)
        self.sorted_centre /= 3
        del centre
        extent = self.hi - self.lo
        k = min(n - 1, int(n * 0.99))
        extent.partition(k)  # in place: the array is not needed in facet order
        span = float(extent[k]) * 3  # three times the 99th percentile of the facets' extent
        del extent
        self.wide = span + self.slack
        # the long facets, by their place in ``order`` (with bool masks: no full-size index arrays)
        is_long = (self.hi - self.lo) > span
        self.long_rank = np.flatnonzero(is_long[self.order])
        self.long_facets = self.order[self.long_rank]
        del is_long
        # the direct path shares one float32 copy of the vertices between scenes; embreex copies what it is
        # given, so each of its scenes gets only the vertices its facets use
        self.vertices = embree.vertex_buffer(positions) if embree.library() is not None else None

    def __iter__(self) -> Iterator[Slab]:
        for k in range(self.count):
            slab = self.cut(k)
            if slab is not None:
                yield slab
            del slab

    def cut(self, k: int) -> Slab | None:
        """Slab k, its scene not built yet (None: no facet)."""
        if self.count == 1:
            return Slab(RayScene(self.positions, self.faces), None)
        order, lo, hi = self.order, self.lo, self.hi
        mine = np.sort(order[self.bounds[k]:self.bounds[k + 1]])
        if len(mine) == 0:
            return None
        low, high = lo[mine].min() - self.slack, hi[mine].max() + self.slack
        first, last = np.searchsorted(self.sorted_centre, [low - self.wide, high + self.wide], side="left")
        long_facets, long_rank = self.long_facets, self.long_rank
        near = np.concatenate([order[first:last], long_facets[(long_rank < first) | (long_rank >= last)]])
        # in the file's facet order, not along the axis: the vertices Embree reads while it builds then come
        # in the order the file stores them, mostly near each other in memory (a 1.3M-facet sphere's slabs:
        # 25 ms a scene instead of 32 ms)
        near = np.sort(near[(hi[near] >= low) & (lo[near] <= high)])
        sub = self.faces[near]
        if self.vertices is not None:
            return Slab(RayScene(self.positions, sub, near, vertices=self.vertices), mine)
        used = np.zeros(len(self.positions), bool)
        used[sub] = True
        local = np.cumsum(used, dtype=np.int32) - 1
        return Slab(RayScene(self.positions[used], local[sub], near, engine="embreex"), mine)


def _work_and_free(work: Callable[[Slab], None], held: list[Slab]) -> None:
    """``work`` on the one slab in ``held``, whose scene is then freed here, before the caller learns that
    the call ended: no worker is still inside Embree (freeing a scene) once :func:`for_each_slab` returns,
    so a process that forks right after a check does not copy Embree's locks in a held state."""
    slab = held.pop()
    try:
        work(slab)
    finally:
        del slab


def for_each_slab(plan: Iterable[Slab], work: Callable[[Slab], None]) -> None:
    """Call ``work(slab)`` for every slab of ``plan`` (a :class:`SlabPlan`), on two threads when there are
    several: each call should build its slab's scene, cast its rays and keep only what it found (``work``
    runs concurrently with itself; the scenes it gets cast on one thread). One more slab waits in the
    workers' queue, cut but not built, so that a worker that ends first starts the next slab at once. The
    first failure seen is raised once the running calls end; the queued ones are dropped."""
    pending: set[Future[None]] = set()

    def finish() -> None:
        done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
        for job in sorted(done, key=order.__getitem__):  # a failure: the earliest slab's
            pending.discard(job)
            job.result()

    order: dict[Future[None], int] = {}
    try:
        for number, slab in enumerate(plan):
            if slab.facets is None:  # the whole mesh in one scene: its ray batches are split instead
                work(slab)
                continue
            slab.scene.threads = 1
            while len(pending) > _THREADS:  # the next slab is cut meanwhile, its scene not built yet
                finish()
            job = _workers().submit(_work_and_free, work, [slab])
            order[job] = number
            pending.add(job)
            del slab
        while pending:
            finish()
    finally:
        for job in pending:  # a failure: let the calls still running end before the arrays they use go
            job.cancel()
        futures.wait(pending)
