"""EAR-SAVER: mask strap extender (parametric, manifold3d).

A flat, slightly flexible strip worn behind the head; the ear loops of a surgical mask hook into one of
four notch pairs at each end, so the loops no longer pull on the ears. Flat, 1.6 mm, several per plate.
Run: python model.py OUT.stl
"""

from __future__ import annotations

from manifold3d import CrossSection, Manifold

PARAMS = {
    "length_mm": 150.0,
    "width_mm": 16.0,
    "thickness_mm": 1.6,
    "notches_per_end": 4,
    "notch_pitch_mm": 8.0,
    "notch_width_mm": 3.0,
    "notch_depth_mm": 5.0,
    "end_margin_mm": 6.0,
    "corner_radius_mm": 4.0,
}


def build(**overrides) -> Manifold:
    p = {**PARAMS, **overrides}
    length, width, r = p["length_mm"], p["width_mm"], p["corner_radius_mm"]
    outline = CrossSection.square([length - 2 * r, width - 2 * r]).translate([r, r]).offset(r, circular_segments=24)
    strip = outline.extrude(p["thickness_mm"])
    notch_w, notch_d = p["notch_width_mm"], p["notch_depth_mm"]
    cuts = []
    for i in range(p["notches_per_end"]):
        for x in (p["end_margin_mm"] + i * p["notch_pitch_mm"],
                  length - p["end_margin_mm"] - i * p["notch_pitch_mm"] - notch_w):
            for y in (-1.0, width - notch_d):
                cuts.append(Manifold.cube([notch_w, notch_d + 1.0, p["thickness_mm"] + 2]).translate([x, y, -1]))
    return strip - Manifold.compose(cuts)


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
