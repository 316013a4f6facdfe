"""Reading a scan or a reference: STL, PLY, OBJ (meshes or point clouds, as trimesh reads them).

A scan becomes points with a weight each (the surface area it stands for: a third of the area of the
triangles around a vertex of a mesh; equal weights for a bare point cloud), so "share of the scanned surface"
means surface, not point count. Any parse failure is an :class:`~hospfab.errors.InputError` naming the file.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hospfab.errors import InputError
from hospfab.fileio import read_regular_bytes, shown

MAX_SCAN_BYTES = 2 << 30  # 2 GiB: a 1M-point binary PLY is ~15 MB, an ASCII STL of 2M facets ~500 MB
FORMATS = ("stl", "ply", "obj", "off", "xyz")


@dataclass
class Scan:
    path: Path
    sha256: str
    points: np.ndarray  # (n, 3) mm
    weights: np.ndarray  # (n,) mm^2 each point stands for (sums to the scanned area), or ones for clouds
    faces: int  # 0 for a point cloud
    kind: str  # "mesh" or "point cloud"

    @property
    def area_weighted(self) -> bool:
        return self.faces > 0


def _load(path: Path, data: bytes):
    import trimesh

    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InputError(f"{shown(path)}: unknown scan format {suffix!r} (use {', '.join(FORMATS)})")
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=suffix, process=False)
    except Exception as err:  # noqa: BLE001 - any parse failure of a user file is an input error
        raise InputError(f"{shown(path)}: cannot read the {suffix.upper()} file ({str(err)[:120] or type(err).__name__})"
                         ) from None  # fmt: skip
    if isinstance(loaded, trimesh.Scene):
        geometries = list(loaded.geometry.values())
        if not geometries:
            raise InputError(f"{shown(path)}: the file holds no geometry")
        meshes = [g for g in geometries if isinstance(g, trimesh.Trimesh)]
        loaded = trimesh.util.concatenate(meshes) if meshes else geometries[0]
    return loaded


def read_scan(path: Path | str, *, what: str = "scan") -> Scan:
    """Points and area weights of a scan file (mesh: its vertices; point cloud: its points)."""
    path = Path(path)
    data = read_regular_bytes(path, what=what, max_bytes=MAX_SCAN_BYTES)
    digest = hashlib.sha256(data).hexdigest()
    loaded = _load(path, data)
    vertices = np.asarray(getattr(loaded, "vertices", np.empty((0, 3))), dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(getattr(loaded, "faces", np.empty((0, 3))), dtype=np.int64).reshape(-1, 3)
    if len(vertices) == 0:
        raise InputError(f"{shown(path)}: the {what} has no points")
    if not np.isfinite(vertices).all():
        raise InputError(f"{shown(path)}: the {what} has non-finite coordinates (NaN or infinity)")
    if len(faces):
        if faces.max() >= len(vertices) or faces.min() < 0:
            raise InputError(f"{shown(path)}: the {what} has faces pointing at missing vertices")
        tri = vertices[faces]
        area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
        weights = np.bincount(faces.ravel(), weights=np.repeat(area / 3, 3), minlength=len(vertices))
        used = weights > 0
        vertices, weights = vertices[used], weights[used]
        if len(vertices) == 0:
            raise InputError(f"{shown(path)}: the {what} has only zero-area faces")
        return Scan(path, digest, vertices, weights, len(faces), "mesh")
    return Scan(path, digest, vertices, np.ones(len(vertices)), 0, "point cloud")


def read_reference(path: Path | str) -> tuple[np.ndarray, str]:
    """Triangles (n, 3, 3) of a reference mesh and its sha256."""
    path = Path(path)
    data = read_regular_bytes(path, what="reference model", max_bytes=MAX_SCAN_BYTES)
    loaded = _load(path, data)
    faces = np.asarray(getattr(loaded, "faces", np.empty((0, 3))), dtype=np.int64).reshape(-1, 3)
    if len(faces) == 0:
        raise InputError(f"{shown(path)}: the reference model has no triangles (a mesh is needed)")
    triangles = np.asarray(loaded.vertices, dtype=np.float64)[faces]
    if not np.isfinite(triangles).all():
        raise InputError(f"{shown(path)}: the reference model has non-finite coordinates")
    return triangles, hashlib.sha256(data).hexdigest()
