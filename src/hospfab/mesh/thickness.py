"""Thin walls: where the part is thinner than the nozzle can print.

From each facet's centroid a ray goes inward (against the facet's normal, given by its winding) for at most
the minimum wall; the first facet it meets is the other side of the wall when it faces away from the ray (the
ray leaves the material there) and stands within ``wall_angle_deg`` of parallel to the start facet. That last
condition keeps sharp edges and chamfers (two faces meeting at an angle) from counting as walls: near the apex
of any wedge the inward ray is short, but the faces are not opposite. Fillets are curved, so their inward rays
run across the part and are long. Thin facets are grouped into regions (joined through shared vertices and
through the ray that measured them, so both sides of a fin are one region); a region below
``min_region_mm2`` of area is a speck, not a wall.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hospfab.mesh import topology
from hospfab.mesh.raycast import RayScene

_OFFSET_MM = 1e-4  # rays start this far inside their facet, clear of float32 rounding
FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.integer[Any]]
BoolArray = npt.NDArray[np.bool_]
# a chunk's thin facets: facets, thickness, facet met, area, centroid
_Found = tuple[IntArray, FloatArray, IntArray, FloatArray, FloatArray]

_CHUNK = 1 << 15  # facets measured at a time: bounds the float64 work arrays (~8 MB)


@dataclass
class ThinRegion:
    min_mm: float
    max_mm: float
    area_mm2: float
    location_mm: list[float]

    def as_dict(self) -> dict[str, Any]:
        return {"min_thickness_mm": round(self.min_mm, 3), "max_thickness_mm": round(self.max_mm, 3),
                "area_mm2": round(self.area_mm2, 3), "location_mm": self.location_mm}


@dataclass
class ThinWalls:
    min_wall_mm: float
    regions: list[ThinRegion] = field(default_factory=list)  # thinnest first
    facets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    region_of_facet: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class Search:
    """Thin regions of the closed, outward-wound mesh ``faces``, measured slab by slab
    (:class:`hospfab.mesh.raycast.SlabPlan`, reach ``min_wall_mm``); only facets where ``use`` is True start rays.
    ``solid[b]`` is True for bodies of positive volume, False for cavities: a ray ends on its own body or
    between a cavity and another body, and goes on through other solid bodies (overlapping bodies are one
    material)."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray, use: np.ndarray, body_of_face: np.ndarray,
                 solid: np.ndarray, min_wall_mm: float, wall_angle_deg: float, min_region_mm2: float):
        self.positions, self.faces, self.use, self.body_of_face = positions, faces, use, body_of_face
        self.solid, self.min_wall_mm, self.wall_angle_deg = solid, min_wall_mm, wall_angle_deg
        self.min_region_mm2 = min_region_mm2
        self._found: list[_Found] = []

    def cast(self, scene: RayScene, facets: np.ndarray | None = None) -> None:
        """Measure from the facets ``facets`` (None: every facet) against ``scene``; several threads may
        measure at once (on different facets)."""
        start = np.flatnonzero(self.use) if facets is None else facets[self.use[facets]]
        for chunk in np.array_split(start, max(1, len(start) // _CHUNK)):
            self._found.append(_measure(scene, self.positions, self.faces, chunk, self.body_of_face, self.solid,
                                        self.min_wall_mm, self.wall_angle_deg))

    def result(self) -> ThinWalls:
        return _regions(self.positions, self.faces, self._found, self.min_wall_mm, self.min_region_mm2)


def find(scene: RayScene, positions: np.ndarray, faces: np.ndarray, use: np.ndarray, body_of_face: np.ndarray,
         solid: np.ndarray, min_wall_mm: float, wall_angle_deg: float, min_region_mm2: float) -> ThinWalls:
    """Thin regions against one scene of the whole mesh (see :class:`Search`)."""
    search = Search(positions, faces, use, body_of_face, solid, min_wall_mm, wall_angle_deg, min_region_mm2)
    search.cast(scene)
    return search.result()


def _regions(positions: FloatArray, faces: IntArray, found: list[_Found], min_wall_mm: float,
             min_region_mm2: float) -> ThinWalls:
    """Thin facets (``found``: chunks of :func:`_measure`) grouped into regions, sharp edges left out."""
    if not found:
        return ThinWalls(min_wall_mm)
    thin, thickness, partner, area, where = (np.concatenate([f[k] for f in found]) for k in range(5))
    order = np.argsort(thin, kind="stable")  # slab by slab: back to facet order
    thin, thickness, partner, area, where = thin[order], thickness[order], partner[order], area[order], where[order]
    result = ThinWalls(min_wall_mm)
    keep = ~_sharp_edges(faces, thin, partner, len(positions))
    thin, thickness, partner, area, where = thin[keep], thickness[keep], partner[keep], area[keep], where[keep]
    if len(thin) == 0:
        return result
    # regions: thin facets joined through their vertices and through the facet their ray measured
    vertex_count = len(positions)
    f = faces[thin]
    join_a = np.r_[f[:, 0], f[:, 1], f[:, 0]]
    join_b = np.r_[f[:, 1], f[:, 2], faces[partner, 0]]
    is_thin = np.zeros(len(faces), bool)
    is_thin[thin] = True
    mutual = is_thin[partner]
    join_a, join_b = join_a[np.r_[np.ones(2 * len(thin), bool), mutual]], join_b[
        np.r_[np.ones(2 * len(thin), bool), mutual]]
    label = topology.components(vertex_count, join_a, join_b)[f[:, 0]]
    region_ids, region = np.unique(label, return_inverse=True)
    k = len(region_ids)
    region_area = np.bincount(region, weights=area, minlength=k)
    lo = np.full(k, np.inf)
    hi = np.zeros(k)
    np.minimum.at(lo, region, thickness)
    np.maximum.at(hi, region, thickness)
    centre: FloatArray = np.stack([np.bincount(region, weights=where[:, j] * area, minlength=k)
                                   for j in range(3)], axis=1)
    centre /= np.maximum(region_area, 1e-300)[:, None]
    kept = np.flatnonzero(region_area >= min_region_mm2)
    kept = kept[np.argsort(lo[kept], kind="stable")]
    result.regions = [ThinRegion(float(lo[r]), float(hi[r]), float(region_area[r]),
                                 [round(float(x), 2) + 0.0 for x in centre[r]]) for r in kept]
    keep_facet = np.isin(region, kept)
    renumber = np.full(k, -1, np.int64)
    renumber[kept] = np.arange(len(kept))
    result.facets = thin[keep_facet].astype(np.int64)
    result.region_of_facet = renumber[region[keep_facet]]
    return result


def _measure(scene: RayScene, positions: FloatArray, faces: IntArray, start: IntArray, body_of_face: IntArray,
             solid: BoolArray, min_wall_mm: float, wall_angle_deg: float) -> _Found:
    """Thin facets among ``start``: (facets, thickness, facet met, area, centroid), before the sharp-edge test."""
    corner = faces[start]
    # in the positions' own precision (float32 from a binary STL): Embree takes float32 rays anyway, and a
    # thickness is only needed at printer resolution; the facets met are measured in float64 below
    v0, v1, v2 = (positions[corner[:, k]] for k in range(3))
    normal: FloatArray = np.cross(v1 - v0, v2 - v0)
    twice_area = np.sqrt(np.einsum("ij,ij->i", normal, normal))
    good = np.flatnonzero(twice_area > 0)
    if len(good) < len(start):
        start = start[good]
        v0, v1, v2, normal, twice_area = (x[good] for x in (v0, v1, v2, normal, twice_area))
    normal /= twice_area[:, None]
    centroid = v0
    centroid += v1
    centroid += v2
    centroid /= 3
    del v0, v1, v2
    inward = -normal
    prim, dist = _same_body_hits(scene, centroid + inward * _OFFSET_MM, inward, min_wall_mm - _OFFSET_MM,
                                 body_of_face, body_of_face[start], solid)
    hit = np.flatnonzero(prim >= 0)
    other = positions[faces[prim[hit]]].astype(np.float64)
    other_n = np.cross(other[:, 1] - other[:, 0], other[:, 2] - other[:, 0])
    other_len = np.sqrt(np.einsum("ij,ij->i", other_n, other_n))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.einsum("ij,ij->i", normal[hit].astype(np.float64), other_n) / other_len
    hit = hit[(other_len > 0) & (cos < -np.cos(np.radians(wall_angle_deg)))]
    return start[hit], dist[hit] + _OFFSET_MM, prim[hit], twice_area[hit] / 2, centroid[hit]


def _same_body_hits(scene: RayScene, origin: FloatArray, direction: FloatArray, length: float,
                    body_of_face: IntArray, body: IntArray, solid: BoolArray
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """First hits within ``length`` on a facet of the ray's own body or across a cavity, going on past
    other solid bodies' facets."""
    n = len(origin)
    prim = np.full(n, -1, np.int64)
    dist = np.full(n, np.inf)
    travelled = np.zeros(n)
    live = np.arange(n)
    for round_ in range(4):
        if round_ == 0:  # every ray, from its origin: no copies
            p, t = scene.first_hits(origin, direction, max(length, 0.0))
        else:
            p, t = scene.first_hits(origin[live] + direction[live] * travelled[live, None], direction[live],
                                    np.maximum(length - travelled[live], 0.0))
        hit = p >= 0
        live, p, t = live[hit], p[hit], t[hit]
        other = body_of_face[p]
        own = (other >= 0) & ((other == body[live]) | ~solid[np.maximum(other, 0)] | ~solid[body[live]])
        prim[live[own]] = p[own]
        dist[live[own]] = travelled[live[own]] + t[own]
        live, t = live[~own], t[~own]
        travelled[live] += t + _OFFSET_MM
        if len(live) == 0:
            break
    return prim, dist


def _sharp_edges(faces: np.ndarray, thin: np.ndarray, partner: np.ndarray, vertex_count: int) -> np.ndarray:
    """True for thin facets measured across a sharp edge rather than a wall: the facet and the one its ray
    met lie in one patch of thin facets joined through vertices, i.e. the two faces meet at an apex (a
    wedge or knife edge). The two sides of a wall are joined only through its rim, whose rays are long."""
    if len(thin) == 0:
        return np.zeros(0, bool)
    f = faces[thin]
    label = topology.components(vertex_count, np.r_[f[:, 0], f[:, 1]], np.r_[f[:, 1], f[:, 2]])
    mine = label[f[:, 0]]
    other = label[faces[partner]]
    sharp: BoolArray = np.any(other == mine[:, None], axis=1)
    return sharp
