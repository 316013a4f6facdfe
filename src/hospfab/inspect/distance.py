"""Exact signed distances from points to a triangle surface (point-to-triangle, not point-to-sample).

The reference triangles are split until no edge is longer than ``max_edge`` (the surface is unchanged), so
every triangle lies within ``radius`` of its centroid. A KD-tree over the centroids gives candidate
triangles; the exact closest point on each candidate is computed (Ericson, *Real-Time Collision Detection*,
5.1.5). Triangles are grouped in size classes (radius halving); within a class of radius r, the answer is
exact when the k-th candidate centroid is farther than ``best + r`` (no other triangle of the class can be
closer); the points where it is not are asked again with more candidates of that class.

The sign is the side of the closest triangle: positive outside the part (material in excess), negative
inside (material missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

CHUNK_POINTS = 65_536  # bounds the temporary arrays: chunk x k x 3 float64
BALL_POINTS = 4_096  # points per ball query of the exact search (each may find a few hundred centroids)
MAX_SUBDIVIDED = 400_000
SIZE_CLASSES = 6


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", u, v)


def closest_points_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point to each ``p[i]`` on triangle ``(a[i], b[i], c[i])`` (all arrays (m, 3))."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    out = np.empty_like(p)
    done = np.zeros(len(p), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        regions = [
            ((d1 <= 0) & (d2 <= 0), lambda: a),
            ((d3 >= 0) & (d4 <= d3), lambda: b),
            ((vc <= 0) & (d1 >= 0) & (d3 <= 0), lambda: a + (d1 / (d1 - d3))[:, None] * ab),
            ((d6 >= 0) & (d5 <= d6), lambda: c),
            ((vb <= 0) & (d2 >= 0) & (d6 <= 0), lambda: a + (d2 / (d2 - d6))[:, None] * ac),
            ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
             lambda: b + ((d4 - d3) / ((d4 - d3) + (d5 - d6)))[:, None] * (c - b)),
        ]  # fmt: skip
        for mask, point in regions:
            take = mask & ~done
            if take.any():
                out[take] = point()[take]
                done |= take
        rest = ~done
        if rest.any():
            denom = 1.0 / (va + vb + vc)
            inner = a + ab * (vb * denom)[:, None] + ac * (vc * denom)[:, None]
            out[rest] = inner[rest]
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():  # degenerate (zero-area) triangle: its nearest vertex
        verts = np.stack([a[bad], b[bad], c[bad]], axis=1)
        nearest = np.argmin(np.linalg.norm(verts - p[bad, None], axis=2), axis=1)
        out[bad] = verts[np.arange(len(nearest)), nearest]
    return out


def subdivide(triangles: np.ndarray, max_edge: float, rounds: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Split triangles in four until no edge exceeds ``max_edge``; returns (triangles, parent face index)."""
    parent = np.arange(len(triangles))
    for _ in range(rounds):
        edges = np.linalg.norm(triangles - np.roll(triangles, 1, axis=1), axis=2).max(axis=1)
        big = edges > max_edge
        if not big.any() or len(triangles) >= MAX_SUBDIVIDED:
            break
        budget = (MAX_SUBDIVIDED - len(triangles)) // 3
        if big.sum() > budget:  # split the largest first, within the budget
            big = np.zeros(len(triangles), dtype=bool)
            big[np.argsort(edges)[::-1][:budget]] = True
        a, b, c = triangles[big, 0], triangles[big, 1], triangles[big, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        split = np.concatenate([np.stack(t, axis=1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
        parent = np.concatenate([parent[~big], np.tile(parent[big], 4)])
        triangles = np.concatenate([triangles[~big], split])
    return triangles, parent


@dataclass
class Closest:
    """Per query point: signed distance (mm), closest surface point, (subdivided) triangle index."""

    distance: np.ndarray
    points: np.ndarray
    triangle: np.ndarray


class SurfaceIndex:
    """A triangle surface prepared for exact closest-point queries."""

    def __init__(self, triangles: np.ndarray, max_edge: float | None = None) -> None:
        from scipy.spatial import cKDTree

        triangles = np.asarray(triangles, dtype=np.float64).reshape(-1, 3, 3)
        if len(triangles) == 0:
            raise ValueError("empty surface")
        face_normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
        self.face_areas = np.linalg.norm(face_normals, axis=1) / 2
        face_normals /= np.maximum(np.linalg.norm(face_normals, axis=1, keepdims=True), 1e-300)
        flat = triangles.reshape(-1, 3)
        self.diagonal = float(np.linalg.norm(flat.max(axis=0) - flat.min(axis=0)))
        if max_edge is None:
            edges = np.linalg.norm(triangles - np.roll(triangles, 1, axis=1), axis=2)
            max_edge = min(float(np.median(edges)) * 2, self.diagonal / 50)
        self.source_faces = len(triangles)
        self.triangles, self.parent = subdivide(triangles, max_edge)
        self.normals = face_normals[self.parent]
        self.areas = self.face_areas[self.parent] / np.bincount(self.parent, minlength=len(triangles))[self.parent]
        self.centroids = self.triangles.mean(axis=1)
        radii = np.linalg.norm(self.triangles - self.centroids[:, None], axis=2).max(axis=1)
        self.radii = radii
        self.radius = float(radii.max())
        self.tree = cKDTree(self.centroids)
        # size classes (radius halving): small triangles packed densely do not force a search as wide as
        # the largest triangle's radius, as one global bound would
        self.classes: list[tuple[np.ndarray, object, float]] = []
        upper, remaining = self.radius, np.arange(len(self.triangles))
        for level in range(SIZE_CLASSES):
            lower = upper / 2 if level < SIZE_CLASSES - 1 else -1.0
            members = remaining[radii[remaining] > lower]
            if len(members):
                self.classes.append((members, cKDTree(self.centroids[members]), float(radii[members].max())))
            remaining, upper = remaining[radii[remaining] <= lower], lower

    def __len__(self) -> int:
        return len(self.triangles)

    def closest(self, points: np.ndarray, k: int = 8, *, exact: bool = True) -> Closest:
        """Closest point on the surface for every point (n, 3): exact, or (``exact=False``, for alignment)
        the best of the ``k`` triangles with the nearest centroids."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        dist = np.empty(len(points))
        near = np.empty_like(points)
        tri = np.empty(len(points), dtype=np.int64)
        for start in range(0, len(points), CHUNK_POINTS):
            part = slice(start, start + CHUNK_POINTS)
            if exact:
                dist[part], near[part], tri[part] = self._exact_chunk(points[part], 2 * k)
            else:
                dist[part], near[part], tri[part], _ = self._candidates(points[part], k, np.arange(len(self)),
                                                                         self.tree)  # fmt: skip
        side = np.einsum("ij,ij->i", points - near, self.normals[tri])
        return Closest(np.where(side < 0, -dist, dist), near, tri)

    def _exact_chunk(self, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per size class, the ``k`` nearest centroids; then, wherever the k-th centroid of a class is closer
        than the best distance plus the class radius (a triangle beyond the k may still be closer), every
        centroid of that class within that distance (a ball query: the exact candidate set)."""
        best = np.full(len(points), np.inf)
        near = np.zeros_like(points)
        tri = np.zeros(len(points), dtype=np.int64)

        def merge(idx, d, n, t):
            better = d < best[idx]
            best[idx[better]], near[idx[better]], tri[idx[better]] = d[better], n[better], t[better]

        todo = []
        everyone = np.arange(len(points))
        for members, tree, radius in self.classes:
            kk = min(k, len(members))
            d, n, t, kth = self._candidates(points, kk, members, tree, best)
            merge(everyone, d, n, t)
            todo.append((members, tree, radius, kk, kth))
        for members, tree, radius, kk, kth in todo:
            if kk >= len(members):
                continue
            pending = np.flatnonzero(kth < best + radius)
            for start in range(0, len(pending), BALL_POINTS):
                idx = pending[start:start + BALL_POINTS]
                merge(idx, *self._within(points[idx], best[idx], radius, members, tree))
        return best, near, tri

    def _within(self, points: np.ndarray, bound: np.ndarray, radius: float, members: np.ndarray, tree):
        """The closest triangle among ``members`` whose centroid is within ``bound + radius`` of each point
        and that could be closer than ``bound`` (distance inf where none is)."""
        found = tree.query_ball_point(points, bound + radius)
        counts = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(points))
        dist = np.full(len(points), np.inf)
        close = np.zeros_like(points)
        chosen = np.zeros(len(points), dtype=np.int64)
        if not counts.sum():
            return dist, close, chosen
        rows = np.repeat(np.arange(len(points)), counts)
        which = members[np.fromiter(chain.from_iterable(found), dtype=np.int64, count=int(counts.sum()))]
        hope = np.linalg.norm(points[rows] - self.centroids[which], axis=1) - self.radii[which] < bound[rows]
        rows, which = rows[hope], which[hope]
        if len(rows):
            tris = self.triangles[which]
            near = closest_points_on_triangles(points[rows], tris[:, 0], tris[:, 1], tris[:, 2])
            d = np.linalg.norm(points[rows] - near, axis=1)
            order = np.lexsort((d, rows))  # per row, nearest first
            head = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
            dist[rows[head]], close[rows[head]], chosen[rows[head]] = d[head], near[head], which[head]
        return dist, close, chosen

    def _candidates(self, points: np.ndarray, k: int, members: np.ndarray, tree, bound: np.ndarray | None = None):
        """The closest of the triangles with the ``k`` nearest centroids (among ``members``), per point; and
        the k-th centroid distance. A triangle lies within its radius of its centroid, so it is at least
        ``centroid distance - radius`` away: only the nearest centroid's triangle and those that could beat
        it (or ``bound``, a distance already found) are computed. The answer is the same as computing all k."""
        centre_dist, local = tree.query(points, k=k)
        centre_dist, local = centre_dist.reshape(len(points), -1), local.reshape(len(points), -1)
        cand = members[local]
        m, kk = cand.shape
        first = self.triangles[cand[:, 0]]
        close = closest_points_on_triangles(points, first[:, 0], first[:, 1], first[:, 2])
        dist = np.linalg.norm(points - close, axis=1)
        chosen = cand[:, 0].copy()
        if kk > 1:
            limit = dist if bound is None else np.minimum(dist, bound)
            rows, cols = np.nonzero(centre_dist[:, 1:] - self.radii[cand[:, 1:]] < limit[:, None])
            if len(rows):
                which = cand[rows, cols + 1]
                tris = self.triangles[which]
                near = closest_points_on_triangles(points[rows], tris[:, 0], tris[:, 1], tris[:, 2])
                d = np.linalg.norm(points[rows] - near, axis=1)
                order = np.lexsort((d, rows))  # per row, nearest first
                head = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
                better = d[head] < dist[rows[head]]
                head, at = head[better], rows[head[better]]
                dist[at], close[at], chosen[at] = d[head], near[head], which[head]
        return dist, close, chosen, centre_dist[:, -1]

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` points spread over the surface by area, with their normals."""
        weights = self.areas / self.areas.sum()
        which = rng.choice(len(self), size=count, p=weights)
        u, v = rng.random(count), rng.random(count)
        flip = u + v > 1
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        t = self.triangles[which]
        pts = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
        return pts, self.normals[which]
