"""A PNG heat map of the deviations on the reference, drawn off-screen with numpy and Pillow.

Two isometric views (from above and from below) of the reference triangles, each coloured by the mean signed
deviation of the scan points that fell on it; grey where nothing was scanned. The colour scale is symmetric
around 0: pale inside the tolerance, saturated blue (material missing) or red (material in excess) beyond
it, so out-of-tolerance areas stand out. A colour bar marks 0 and +/- the tolerance.
"""

from __future__ import annotations

from io import BytesIO

import numpy as np

BACKGROUND = (250, 250, 250)
UNSCANNED = np.array([175.0, 175.0, 175.0])
LIGHT = np.array([0.35, 0.45, 0.82])
# anchors: position on [-1, 1] of the scale (tolerance positions are filled in per picture), colour
DEEP_BLUE, PALE_BLUE, NEUTRAL, PALE_ORANGE, DEEP_RED = (
    (20, 50, 190), (150, 195, 255), (228, 238, 228), (255, 205, 140), (200, 10, 10),
)  # fmt: skip


def colour_scale(values: np.ndarray, tolerance: float, limit: float) -> np.ndarray:
    """RGB (n, 3) floats for signed ``values``: pale within +/- ``tolerance``, saturated at +/- ``limit``."""
    t = tolerance / limit
    xs = [-1.0, -t, 0.0, t, 1.0]
    anchors = np.array([DEEP_BLUE, PALE_BLUE, NEUTRAL, PALE_ORANGE, DEEP_RED], dtype=float)
    v = np.clip(np.asarray(values, dtype=float) / limit, -1, 1)
    # a visible step at the tolerance: beyond it, jump a third of the way to the saturated colour
    out = np.stack([np.interp(v, xs, anchors[:, c]) for c in range(3)], axis=1)
    beyond = np.abs(v) > t
    deep = np.where(v[:, None] < 0, np.array(DEEP_BLUE, float), np.array(DEEP_RED, float))
    out[beyond] = out[beyond] + (deep[beyond] - out[beyond]) * 0.35
    return out


def _view(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    rot_z = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rot_x = np.array([[1, 0, 0], [0, np.sin(el), np.cos(el)], [0, -np.cos(el), np.sin(el)]])
    return rot_x @ rot_z


def _draw_view(draw, triangles, colours, view, box, span_lo, span):
    from math import isfinite

    x0, y0, width, height = box
    v = triangles.reshape(-1, 3) @ view.T
    v = v.reshape(-1, 3, 3)
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = (lengths > 1e-12) & (normals[:, 2] > 0)
    v, normals, colours = v[keep], normals[keep] / lengths[keep, None], colours[keep]
    if not len(v):
        return
    xy = v[:, :, :2]
    lo, hi = xy.reshape(-1, 2).min(axis=0), xy.reshape(-1, 2).max(axis=0)
    scale = min(width / max(hi[0] - lo[0], 1e-9), height / max(hi[1] - lo[1], 1e-9)) * 0.92
    centre = (lo + hi) / 2
    screen = (xy - centre) * scale
    screen[:, :, 1] *= -1
    screen += np.array([x0 + width / 2, y0 + height / 2])
    light = LIGHT / np.linalg.norm(LIGHT)
    shade = 0.62 + 0.38 * np.clip(normals @ light, 0, 1)
    rgb = np.clip(colours * shade[:, None], 0, 255).astype(np.uint8)
    for index in np.argsort(v[:, :, 2].mean(axis=1)):
        pts = screen[index]
        if not all(isfinite(c) for c in pts.ravel()):
            continue
        colour = tuple(int(c) for c in rgb[index])
        draw.polygon([tuple(p) for p in pts.tolist()], fill=colour, outline=colour)


def render_heatmap(triangles: np.ndarray, deviation: np.ndarray, tolerance: float, *, size: int = 360,
                   title: str = "") -> bytes:
    """PNG bytes: ``triangles`` (n, 3, 3) coloured by ``deviation`` (n,) in mm (NaN = not scanned)."""
    from PIL import Image, ImageDraw

    finite = deviation[np.isfinite(deviation)]
    peak = float(np.percentile(np.abs(finite), 99)) if len(finite) else 0.0
    limit = float(min(max(2.0 * tolerance, peak), 10.0 * tolerance))
    colours = np.where(np.isfinite(deviation)[:, None], colour_scale(np.nan_to_num(deviation), tolerance, limit),
                       UNSCANNED)  # fmt: skip
    factor = 2  # drawn at twice the size, then downsampled (anti-aliasing)
    panel, bar_w, header = size * factor, 130 * factor, 34 * factor
    image = Image.new("RGB", (2 * panel + bar_w, panel + header), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = 13 * factor
    draw.text((12 * factor, 8 * factor), title, fill=(30, 30, 30), font_size=font)
    for i, (az, el, label) in enumerate(((-45.0, 35.264, "from above"), (135.0, -35.264, "from below"))):
        box = (i * panel, header, panel, panel)
        _draw_view(draw, triangles, colours, _view(az, el), box, None, None)
        draw.text((i * panel + 12 * factor, header + 4 * factor), label, fill=(90, 90, 90), font_size=font)
    # colour bar
    bx, by, bh = 2 * panel + 14 * factor, header + 20 * factor, panel - 60 * factor
    values = np.linspace(limit, -limit, bh)
    bar = colour_scale(values, tolerance, limit).astype(np.uint8)
    for row, colour in enumerate(bar):
        draw.line([(bx, by + row), (bx + 22 * factor, by + row)], fill=tuple(int(c) for c in colour))
    for value in (limit, tolerance, 0.0, -tolerance, -limit):
        y = by + int((limit - value) / (2 * limit) * (bh - 1))
        draw.line([(bx + 22 * factor, y), (bx + 28 * factor, y)], fill=(40, 40, 40), width=factor)
        draw.text((bx + 31 * factor, y - 7 * factor), f"{value:+.2f}", fill=(40, 40, 40), font_size=font)
    draw.text((bx, by + bh + 8 * factor), "mm", fill=(40, 40, 40), font_size=font)
    draw.rectangle([bx, by + bh + 26 * factor, bx + 22 * factor, by + bh + 40 * factor], fill=tuple(int(c) for c in UNSCANNED))
    draw.text((bx + 26 * factor, by + bh + 26 * factor), "not scanned", fill=(40, 40, 40), font_size=int(font * 0.8))
    image = image.resize((image.width // factor, image.height // factor), Image.LANCZOS)
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
