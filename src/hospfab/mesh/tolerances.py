"""Every numeric tolerance used by the mesh checks, in one place, each with its unit and its reason.

Coordinates in STL files are millimetres by convention (the format has no unit field). Binary STL stores
float32, whose spacing at 200 mm is about 1.5e-5 mm; tolerances below are chosen far under any printer's
resolution (a 0.4 mm nozzle, 0.05-0.3 mm layers) and just above what float rounding produces.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    weld_mm: float = 1e-6
    """Vertices on open edges closer than this (mm) are one vertex; all other corners are welded only when
    bit-identical. Reason: exporters write the same corner with decimal rounding noise (1e-7 mm in
    OpenSCAD's ASCII output, 1e-15 mm in others), which is not a crack; 1 nm is far below any feature.
    Larger gaps, even float32-sized ones (1e-5 mm), stay open edges: a validated part must be closed
    without guessing, and `hospfab repair` closes them explicitly (``repair_weld_mm``)."""

    repair_weld_mm: float = 1e-3
    """`repair` merges vertices closer than this (mm). Reason: closes exporter cracks (float32 rounding,
    1e-5 mm; tessellation seams) while staying 50x below a 0.05 mm layer."""

    degenerate_area_mm2: float = 1e-10
    """A facet whose area is below this (mm^2) has no surface: a needle or a point. Reason: such facets
    carry no printable information, break normal computation and are removed by every repair tool."""

    normal_mismatch_cos: float = 0.0
    """A stored normal whose cosine with the normal implied by the vertex order is below this (i.e. it
    points more than 90 degrees away) disagrees with the winding. Zero stored normals are 'not stored'.
    Reason: STL readers differ on which one they trust; a disagreement means one of them is wrong."""

    normal_mismatch_fraction: float = 0.0
    """Warn about stored normals when more than this fraction of facets disagree (unitless). Reason: even a
    few disagreeing normals show an exporter bug, and readers that trust stored normals get it wrong."""

    small_part_mm: float = 5.0
    """A part whose every extent is below this (mm) is suspicious: probably modelled in inches, cm or m.
    Reason: no useful hospital spare part is smaller than a 5 mm cube."""

    huge_part_mm: float = 2000.0
    """A part with any extent above this (mm) is suspicious: probably modelled in micrometres or 0.1 mm.
    Reason: no desktop printer builds 2 m parts."""

    inch_like_max_mm: float = 12.0
    """When the largest extent is at most this (mm) and x25.4 would give a plausible part, units may be
    inches. Only reported together with ``small_part_mm`` (all extents under 5 mm)."""

    overlap_volume_fraction: float = 1e-4
    """Two bodies overlap when their intersection holds more than this fraction of the smaller body's
    volume (unitless). Reason: bodies that merely touch give a tiny numeric intersection."""

    max_overlap_pairs: int = 200
    """At most this many pairs of bodies (with overlapping boxes) are intersected exactly. Reason: keeps
    `check` fast on plates of many small parts; beyond it the overlap check reports what it tested."""

    fill_hole_max_edges: int = 64
    """`repair` fills a hole only when its boundary loop has at most this many edges. Reason: larger
    holes are missing geometry, not a crack; filling them with a flat fan invents a surface."""

    intersection_touch_mm: float = 1e-5
    """A segment end or crossing point closer than this (mm) to a facet's plane or edge touches it rather
    than crossing it. Reason: float32 coordinates of a 200 mm part are rounded by 1.5e-5 mm, so contact
    written by an exporter (a vertex on a facet, coplanar faces) lands within this of exact; a crossing this
    shallow is 10,000x below a layer."""

    wall_angle_deg: float = 30.0
    """An inward ray measures a wall only when the facet it meets is within this many degrees of parallel
    to the facet it left (opposite sides of a wall). Reason: at a sharp edge or chamfer two faces meet at an
    angle and the ray is short near the apex without the part being a wall; wedges sharper than 30 degrees
    are reported near their tip, where they do print thinner than the nozzle."""

    thin_vanish_fraction: float = 1 / 3
    """A thin region whose thickest measured point is below this fraction of the minimum wall is an error:
    the feature vanishes. Reason: measured with PrusaSlicer 2.5 (classic and Arachne perimeters, 0.4 mm
    nozzle, 0.2 mm layers): a 0.10 mm fin is dropped entirely, fins of 0.15 mm and more are printed
    (over-wide). Thicker thin regions are a warning: they print, weaker and wider than drawn."""

    noise_size_mm: float = 0.3
    """A body whose bounding box is under this (mm) along every axis is noise. Reason: narrower than the
    line of the smallest common nozzle (0.4 mm): nothing of it can print."""

    noise_volume_mm3: float = 1e-3
    """A body enclosing less than this volume (mm^3, a 0.1 mm cube) is noise when it is also under
    ``noise_volume_size_mm`` long. Reason: exporters leave such specks (collapsed sliver shells)."""

    noise_volume_size_mm: float = 2.0
    """See ``noise_volume_mm3``: a flat 2 mm sliver with no volume is debris, a 20 mm plate is not."""


DEFAULT = Tolerances()
