"""A timeline picture of a plan (one row per printer, one bar per plate), drawn with Pillow."""

from __future__ import annotations

from pathlib import Path

from hospfab.queue.planner import Plan

PALETTE = ((66, 133, 244), (52, 168, 83), (251, 188, 5), (234, 67, 53), (154, 96, 180), (0, 172, 193))


def draw_timeline(plan: Plan, path: Path, *, title: str = "", deadline_s: float | None = None) -> Path:
    """Write a PNG timeline of ``plan`` to ``path`` (hours on the x axis; a red line at the deadline)."""
    from PIL import Image, ImageDraw

    printers = list(plan.finish_s)
    left, top, row, width = 140, 40, 22, 1000
    height = top + row * max(1, len(printers)) + 40
    span = max(plan.makespan_s, deadline_s or 0.0, 1.0)
    scale = (width - left - 20) / span
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), title or f"{len(plan.slots)} plates, {plan.units} units", fill="black")
    refs = sorted({s.reference for s in plan.slots})
    colour = {ref: PALETTE[i % len(PALETTE)] for i, ref in enumerate(refs)}
    for i, name in enumerate(printers):
        y = top + i * row
        draw.text((10, y + 4), name[:20], fill="black")
        draw.line((left, y + row - 1, width - 20, y + row - 1), fill=(230, 230, 230))
    index = {name: i for i, name in enumerate(printers)}
    for slot in plan.slots:
        y = top + index[slot.printer] * row
        x0, x1 = left + slot.start_s * scale, left + slot.end_s * scale
        draw.rectangle((x0, y + 3, max(x0 + 1, x1 - 1), y + row - 4), fill=colour[slot.reference], outline="black")
    axis_y = top + row * len(printers) + 5
    hours = max(1, int(span // 3600) + 1)
    step = max(1, hours // 12)
    for h in range(0, hours + 1, step):
        x = left + h * 3600 * scale
        if x <= width - 20:
            draw.line((x, axis_y, x, axis_y + 5), fill="black")
            draw.text((x - 6, axis_y + 8), f"{h}h", fill="black")
    if deadline_s is not None:
        x = left + deadline_s * scale
        draw.line((x, top - 5, x, axis_y), fill=(220, 0, 0), width=2)
        draw.text((x + 3, top - 15), "deadline", fill=(220, 0, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
