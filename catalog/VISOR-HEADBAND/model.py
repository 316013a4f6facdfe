"""VISOR-HEADBAND: face-shield headband holding a punched A4 transparent sheet (parametric, manifold3d).

An open elliptical band worn on the forehead, with four pins on its front face spaced like the holes of a
standard office 4-hole punch (80 mm apart), so a plain A4 sheet punched along its long edge clips on, and
a slotted tab at each end for an elastic strap. Printed flat, 0.3 mm layers, PETG.
Run: python model.py OUT.stl
"""

from __future__ import annotations

import math

from manifold3d import CrossSection, Manifold

PARAMS = {
    "half_width_mm": 92.0,     # outer semi-axis across the forehead
    "depth_mm": 95.0,          # outer semi-axis front to back
    "band_mm": 2.4,            # band wall thickness
    "height_mm": 10.0,         # band height (Z)
    "wrap_deg": 20.0,          # how far the band wraps past the temples, degrees
    "pin_diameter_mm": 5.0,    # A4 office punch makes 5.5-6 mm holes
    "pin_length_mm": 6.0,
    "pin_spacing_mm": 80.0,    # ISO 838 / 4-hole punch spacing
    "tab_mm": 14.0,            # strap tab length
    "slot_mm": (3.0, 8.0),     # elastic slot (width, height)
}


def _ellipse_point(a: float, b: float, t: float) -> tuple[float, float]:
    return a * math.cos(t), b * math.sin(t)


def build(**overrides) -> Manifold:
    p = {**PARAMS, **overrides}
    a, b, w, h = p["half_width_mm"], p["depth_mm"], p["band_mm"], p["height_mm"]
    start, stop = -math.radians(p["wrap_deg"]), math.pi + math.radians(p["wrap_deg"])
    steps = 160
    ts = [start + (stop - start) * i / steps for i in range(steps + 1)]
    outer = [_ellipse_point(a, b, t) for t in ts]
    inner = [_ellipse_point(a - w, b - w, t) for t in reversed(ts)]
    band = CrossSection([outer + inner]).extrude(h)
    # strap tabs at both ends, each with a slot for the elastic
    tab_len, (slot_w, slot_h) = p["tab_mm"], p["slot_mm"]
    for t in (start, stop):
        x, y = _ellipse_point(a - w / 2, b - w / 2, t)
        tangent = math.degrees(math.atan2(b * math.cos(t), -a * math.sin(t)))
        away = tangent + (180.0 if t == start else 0.0)
        tab = Manifold.cube([tab_len + w, w, h]).translate([-w, -w / 2, 0])
        slot = Manifold.cube([slot_w, w + 2, slot_h]).translate([tab_len / 2, -w / 2 - 1, (h - slot_h) / 2])
        tab = (tab - slot).rotate([0, 0, away]).translate([x, y, 0])
        band = band + tab
    # pins on the front (the y < 0 side is the forehead front), spaced by arc length from the centre
    arc = [0.0]
    for i in range(1, len(ts)):
        (x0, y0), (x1, y1) = outer[i - 1], outer[i]
        arc.append(arc[-1] + math.hypot(x1 - x0, y1 - y0))
    centre = arc[min(range(len(ts)), key=lambda i: abs(ts[i] - math.pi / 2))]
    for offset in (-1.5, -0.5, 0.5, 1.5):
        target = centre + offset * p["pin_spacing_mm"]
        i = min(range(len(arc)), key=lambda k: abs(arc[k] - target))
        t = ts[i]
        x, y = outer[i]
        nx, ny = math.cos(t) / a, math.sin(t) / b
        angle = math.degrees(math.atan2(ny, nx))
        pin = (Manifold.cylinder(p["pin_length_mm"] + 1.0, p["pin_diameter_mm"] / 2, circular_segments=32)
               .rotate([0, 90, 0]).translate([-1.0, 0, h / 2]).rotate([0, 0, angle]).translate([x, y, 0]))
        band = band + pin
    return band.simplify(1e-3)

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

