"""DOOR-OPENER: hands-free door handle hook (parametric, manifold3d).

Snaps onto a round lever door handle (about 19-22 mm) and adds a hook-shaped arm so the door can be pulled
open with the forearm instead of the hand. A 2D profile extruded to the band width; printed flat.
Run: python model.py OUT.stl
"""

from __future__ import annotations

import math

from manifold3d import CrossSection, Manifold

PARAMS = {
    "handle_diameter_mm": 21.0,   # lever handle bar diameter (clearance included)
    "wall_mm": 5.0,               # clamp ring wall
    "opening_mm": 17.0,           # snap-fit mouth, smaller than the handle so it clicks on
    "arm_length_mm": 85.0,        # from handle centre to hook
    "arm_width_mm": 10.0,
    "hook_inner_radius_mm": 14.0, # forearm rests here
    "height_mm": 12.0,            # extrusion (band) width
}


def build(**overrides) -> Manifold:
    p = {**PARAMS, **overrides}
    r_in = p["handle_diameter_mm"] / 2
    r_out = r_in + p["wall_mm"]
    ring = CrossSection.circle(r_out, 64) - CrossSection.circle(r_in, 64)
    # mouth of the snap fit, facing -Y (the handle enters from below)
    mouth = CrossSection.square([p["opening_mm"], r_out + 1]).translate([-p["opening_mm"] / 2, -r_out - 1])
    ring = ring - mouth
    arm_w, arm_len = p["arm_width_mm"], p["arm_length_mm"]
    arm = CrossSection.square([arm_len, arm_w]).translate([r_in + 0.5, -arm_w / 2])
    hook_r = p["hook_inner_radius_mm"]
    hook_centre = (r_in + arm_len, -arm_w / 2 - hook_r)
    hook_ring = (CrossSection.circle(hook_r + arm_w, 64) - CrossSection.circle(hook_r, 64)).translate(hook_centre)
    # keep the upper-right half of the hook ring: a J that cradles the forearm
    keep = CrossSection.square([2 * (hook_r + arm_w), hook_r + arm_w]).translate(
        [hook_centre[0] - (hook_r + arm_w), hook_centre[1]])
    keep = keep + CrossSection.square([hook_r + arm_w, hook_r + arm_w]).translate(
        [hook_centre[0], hook_centre[1] - (hook_r + arm_w)])
    hook = hook_ring ^ keep
    tip = CrossSection.circle(arm_w / 2, 32).translate([hook_centre[0], hook_centre[1] - hook_r - arm_w / 2])
    profile = ring + arm + hook + tip
    return profile.extrude(p["height_mm"])


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
