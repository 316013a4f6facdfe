"""RESP-CONNECTOR-22M: straight 22M/22M respiratory tube coupler, ISO 5356-1 style cones (parametric).

Joins two breathing-circuit parts with 22 mm female sockets. Each end is a 22 mm male cone with the
ISO 5356-1 taper of 1:40 on diameter (22.0 mm at the gauge end, 21.6 mm 16 mm further); a collar in the
middle stops the insertion. Printed upright with the airtight process (100 % infill, 4 perimeters).
Run: python model.py OUT.stl
"""

from __future__ import annotations

from manifold3d import Manifold

PARAMS = {
    "cone_gauge_diameter_mm": 22.0,  # ISO 5356-1 male 22 mm at the gauge plane
    "taper": 1 / 40,                 # diametral taper
    "cone_length_mm": 16.0,          # ISO 5356-1 minimum engagement is 15 mm
    "collar_diameter_mm": 28.0,
    "collar_length_mm": 5.0,
    "bore_mm": 15.0,
    "segments": 64,
}


def build(**overrides) -> Manifold:
    p = {**PARAMS, **overrides}
    d0, length = p["cone_gauge_diameter_mm"], p["cone_length_mm"]
    d1 = d0 - p["taper"] * length
    n = p["segments"]
    lower = Manifold.cylinder(length, d1 / 2, d0 / 2, circular_segments=n)
    collar = Manifold.cylinder(p["collar_length_mm"], p["collar_diameter_mm"] / 2, circular_segments=n).translate(
        [0, 0, length])
    upper = Manifold.cylinder(length, d0 / 2, d1 / 2, circular_segments=n).translate(
        [0, 0, length + p["collar_length_mm"]])
    total = 2 * length + p["collar_length_mm"]
    bore = Manifold.cylinder(total + 2, p["bore_mm"] / 2, circular_segments=n).translate([0, 0, -1])
    return (lower + collar + upper) - bore


def write_stl(solid, path):
    """Write ``solid`` as a binary STL in millimetres (deterministic bytes)."""
    import struct

    import numpy as np

    mesh = solid.to_mesh()
    verts = np.asarray(mesh.vert_properties, dtype=np.float32)[:, :3]
    # merge coincident vertices and drop the zero-area facets they leave (booleans can produce them)
    unique, index = np.unique(verts, axis=0, return_inverse=True)
    faces = index.reshape(-1)[np.asarray(mesh.tri_verts, dtype=np.int64)]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    tris = unique[faces[keep]].astype(np.float64)
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    record = np.zeros(len(tris), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    record["n"], record["v"] = normals, tris
    with open(path, "wb") as handle:
        handle.write(b"hospfab parametric model".ljust(80, b" "))
        handle.write(struct.pack("<I", len(tris)))
        handle.write(record.tobytes())


if __name__ == "__main__":
    import sys

    write_stl(build(), sys.argv[1] if len(sys.argv) > 1 else __file__.replace(".py", ".stl"))
