"""TUBE-RACK-16: rack for 6 swab or test tubes up to 16 mm (parametric, manifold3d).

Two rows of three holes in a block with a closed floor, sized for 16 mm tubes (e.g. 16 x 100 mm swab
transport tubes) with 1 mm clearance; chamfered entries help one-handed insertion. Labels go on the flat
front face.
Run: python model.py OUT.stl
"""

from __future__ import annotations

from manifold3d import Manifold

PARAMS = {
    "tube_diameter_mm": 16.0,
    "clearance_mm": 1.0,
    "columns": 3,
    "rows": 2,
    "pitch_mm": 22.0,
    "height_mm": 20.0,
    "floor_mm": 2.4,
    "chamfer_mm": 1.5,
}


def build(**overrides) -> Manifold:
    p = {**PARAMS, **overrides}
    pitch, cols, rows, h = p["pitch_mm"], p["columns"], p["rows"], p["height_mm"]
    block = Manifold.cube([cols * pitch, rows * pitch, h])
    r = (p["tube_diameter_mm"] + p["clearance_mm"]) / 2
    depth = h - p["floor_mm"]
    holes = []
    for i in range(cols):
        for j in range(rows):
            x, y = (i + 0.5) * pitch, (j + 0.5) * pitch
            holes.append(Manifold.cylinder(depth + 1, r, circular_segments=40).translate([x, y, p["floor_mm"]]))
            c = p["chamfer_mm"]
            holes.append(Manifold.cylinder(c + 0.01, r, r + c + 0.01, circular_segments=40).translate([x, y, h - c]))
    return block - Manifold.compose(holes)


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
