"""Off-screen PNG preview of an STL: a flat-shaded isometric view drawn with numpy and Pillow.

No display, no OpenGL, no matplotlib: triangles are rotated into an isometric view, back faces culled, sorted
far to near (painter's algorithm), shaded by a fixed light and drawn at 2x then downsampled (anti-aliasing).
The bounding-box dimensions are written under the picture so a technician can tell a 22 mm connector from
a 15 mm one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hospfab.catalog.files import CATALOG_FILE_MODE
from hospfab.errors import InputError
from hospfab.fileio import atomic_write_bytes

if TYPE_CHECKING:
    from PIL.ImageDraw import ImageDraw

#: (label, RGB colour, facet indices) of a set of facets drawn in colour over the part.
Highlight = tuple[str, tuple[int, int, int], np.ndarray]

BACKGROUND = (246, 247, 249)
BASE_COLOUR = np.array([70.0, 130.0, 180.0])  # steel blue
LIGHT = np.array([0.35, 0.45, 0.82])
MAX_TRIANGLES = 200_000


def _load_triangles(stl: Path) -> np.ndarray:
    import trimesh

    try:
        mesh = trimesh.load_mesh(stl, file_type="stl", process=False)
    except Exception as err:  # noqa: BLE001 - any parse failure of a user file is an input error
        raise InputError(f"{stl}: cannot read STL for the preview ({err})") from None
    triangles: np.ndarray = np.asarray(mesh.triangles, dtype=np.float64)
    if triangles.size == 0:
        raise InputError(f"{stl}: empty STL, nothing to preview")
    return triangles


def _view_matrix(azimuth_deg: float = -45.0, elevation_deg: float = 35.264) -> np.ndarray:
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    rot_z = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    # tilt so that +Z of the part points up on screen and we look down at it
    rot_x = np.array([[1, 0, 0], [0, np.sin(el), np.cos(el)], [0, -np.cos(el), np.sin(el)]])
    matrix: np.ndarray = rot_x @ rot_z
    return matrix


def _subdivide(view: np.ndarray, max_edge: float, rounds: int = 6) -> np.ndarray:
    """Split large triangles in four until no edge exceeds ``max_edge``, so depth sorting by centroid
    stays right where big flat faces meet small ones (a block with holes)."""
    for _ in range(rounds):
        edges = np.linalg.norm(view - np.roll(view, 1, axis=1), axis=2).max(axis=1)
        big = edges > max_edge
        if not big.any() or len(view) > 4 * MAX_TRIANGLES:
            break
        a, b, c = view[big, 0], view[big, 1], view[big, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        split = np.concatenate([np.stack(t, axis=1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
        view = np.concatenate([view[~big], split])
    return view


def render_png(triangles: np.ndarray, size: int = 480, highlight: Sequence[Highlight] | None = None) -> bytes:
    """PNG bytes of ``triangles`` (n, 3, 3) in mm. ``highlight``: (label, rgb, facet indices) triples drawn
    in colour over the part (seen through it, so hidden defects show), with a legend; the part is then grey."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    extents = triangles.reshape(-1, 3).max(axis=0) - triangles.reshape(-1, 3).min(axis=0)
    marked = [(label, rgb, triangles[np.asarray(idx, np.int64)]) for label, rgb, idx in (highlight or [])]
    base_colour = BASE_COLOUR if not marked else np.array([150.0, 150.0, 150.0])
    if len(triangles) > MAX_TRIANGLES:
        step = int(np.ceil(len(triangles) / MAX_TRIANGLES))
        triangles = triangles[::step]
    view = triangles.reshape(-1, 3) @ _view_matrix().T
    view = view.reshape(-1, 3, 3)
    normals = np.cross(view[:, 1] - view[:, 0], view[:, 2] - view[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = (lengths > 1e-12) & (normals[:, 2] > 0)  # facing the viewer (looking down -z)
    view = view[keep]
    if len(view):
        span = float(np.ptp(view.reshape(-1, 3), axis=0).max())
        view = _subdivide(view, span / 25)
        normals = np.cross(view[:, 1] - view[:, 0], view[:, 2] - view[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    scale_px = 2 * size
    margin = 0.08 * scale_px
    footer = 0.08 * scale_px
    image = Image.new("RGB", (scale_px, scale_px), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if len(view):
        xy = view[:, :, :2]
        lo, hi = xy.reshape(-1, 2).min(axis=0), xy.reshape(-1, 2).max(axis=0)
        span = max(float((hi - lo).max()), 1e-9)
        factor = (scale_px - 2 * margin - footer) / span
        centre = (lo + hi) / 2
        screen = (xy - centre) * factor
        screen[:, :, 1] *= -1  # screen y grows downwards
        screen += np.array([scale_px / 2, (scale_px - footer) / 2])
        light = LIGHT / np.linalg.norm(LIGHT)
        intensity = 0.35 + 0.65 * np.clip(normals @ light, 0, 1)
        colours = np.clip(base_colour[None, :] * intensity[:, None] * 1.45, 0, 255).astype(np.uint8)
        order = np.argsort(view[:, :, 2].mean(axis=1))  # far (small z) first
        for index in order:
            colour = tuple(int(c) for c in colours[index])
            draw.polygon([tuple(p) for p in screen[index].tolist()], fill=colour, outline=colour)
        _draw_marked(draw, marked, lambda pts: ((pts @ _view_matrix().T)[..., :2] - centre) * factor * [1, -1]
                     + np.array([scale_px / 2, (scale_px - footer) / 2]), footer)
    label = f"{extents[0]:.1f} x {extents[1]:.1f} x {extents[2]:.1f} mm"
    draw.text((margin, scale_px - footer), label, fill=(40, 40, 40), font_size=int(footer * 0.5))
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _draw_marked(draw: ImageDraw, marked: list[Highlight], to_screen: Callable[[np.ndarray], np.ndarray],
                 footer: float) -> None:
    """Each highlighted set's facets, filled and outlined, a dot on up to 300 of them (tiny facets stay
    visible), and a legend line per set."""
    for label, rgb, tris in marked:
        screen = to_screen(tris[:20_000])
        for poly in screen:
            draw.polygon([tuple(p) for p in poly.tolist()], fill=rgb, outline=rgb, width=3)
        step = max(1, len(screen) // 300)
        for x, y in screen[::step].mean(axis=1):
            draw.ellipse((x - 5, y - 5, x + 5, y + 5), outline=rgb, width=3)
    for row, (label, rgb, tris) in enumerate(marked):
        y = 12 + row * footer * 0.45
        draw.rectangle((12, y, 12 + footer * 0.3, y + footer * 0.3), fill=rgb)
        draw.text((20 + footer * 0.35, y - 2), f"{label} ({len(tris):,} facets)", fill=(40, 40, 40),
                  font_size=int(footer * 0.32))


def render_preview(stl: Path, png: Path, size: int = 480) -> Path:
    """Render ``stl`` to ``png`` (written atomically) and return ``png``."""
    atomic_write_bytes(png, render_png(_load_triangles(stl), size), mode=CATALOG_FILE_MODE)
    return png
