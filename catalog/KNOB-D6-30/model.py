"""KNOB-D6-30: 30 mm replacement control knob for a 6 mm D-shaft (parametric, manifold3d).

The kind of knob that is lost or cracked on flowmeters, suction regulators and bench equipment: 30 mm
grip with 24 flutes, a pointer line on top, and a 6 mm D-shaft bore (4.5 mm across the flat) with a press
fit. Printed upright, top face down is not needed (no overhangs).
Run: python model.py OUT.stl
"""

from __future__ import annotations

from manifold3d import CrossSection, Manifold

PARAMS = {
    "diameter_mm": 30.0,
    "height_mm": 16.0,
    "flutes": 24,
    "flute_depth_mm": 1.2,
    "shaft_diameter_mm": 6.1,   # 6 mm shaft + 0.1 mm press-fit allowance
    "shaft_flat_mm": 4.6,       # across the D flat (4.5 mm nominal)
    "bore_depth_mm": 12.0,
    "pointer_mm": (1.6, 10.0, 0.8),  # groove width, length, depth on top
}


def build(**overrides) -> Manifold:
    p = {**PARAMS, **overrides}
    r, h = p["diameter_mm"] / 2, p["height_mm"]
    body = Manifold.cylinder(h, r, circular_segments=72)
    flutes = [
        Manifold.cylinder(h + 2, p["flute_depth_mm"] * 1.6, circular_segments=12)
        .translate([r + p["flute_depth_mm"] * 0.6, 0, -1]).rotate([0, 0, 360.0 * i / p["flutes"]])
        for i in range(p["flutes"])
    ]
    body = body - Manifold.compose(flutes)
    shaft_r = p["shaft_diameter_mm"] / 2
    d_profile = CrossSection.circle(shaft_r, 64) ^ CrossSection.square([2 * shaft_r, p["shaft_flat_mm"]]).translate(
        [-shaft_r, -shaft_r])
    bore = d_profile.extrude(p["bore_depth_mm"] + 1).translate([0, 0, -1])
    gw, gl, gd = p["pointer_mm"]
    pointer = Manifold.cube([gw, gl, gd + 1]).translate([-gw / 2, r - gl - 2.5, h - gd])
    return body - bore - pointer


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
