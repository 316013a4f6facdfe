"""The HTML inspection report (jinja2 template, autoescaped; the heat map is embedded, so it works offline)."""

from __future__ import annotations

import base64
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from hospfab.fileio import atomic_write_text
from hospfab.inspect.measure import Inspection


def _rows(figures: dict[str, Any]) -> list[tuple[str, str]]:
    f = figures
    return [
        ("RMS deviation", f"{f['rms_mm']:.3f} mm"), ("Mean deviation (bias)", f"{f['mean_mm']:+.3f} mm"),
        ("95th percentile |deviation|", f"{f['p95_mm']:.3f} mm"), ("Max |deviation|", f"{f['max_mm']:.3f} mm"),
        ("Signed range", f"{f['min_signed_mm']:+.3f} to {f['max_signed_mm']:+.3f} mm"),
        ("Scanned surface within tolerance", f"{100 * f['within_tolerance_share']:.2f} %"),
        ("Reference surface covered by the scan", f"{100 * f['coverage_share']:.1f} %"),
        ("Scale error (similarity fit)", f"{f['scale_error_pct']:+.3f} % ({f['scale_effect_mm']:.3f} mm at the far end)"),
        ("Scan matching the reference / mirrored", f"{100 * f['matched_share']:.1f} % / "
                                                   f"{100 * f['mirrored_matched_share']:.1f} %"),
        ("Mirror image within tolerance", f"{100 * f.get('mirrored_within_tolerance_share', 0.0):.1f} %"),
        ("Scan points (measured)", f"{f['points']} ({f['points_measured']}), {f['scan_kind']}"),
        ("Point spacing", f"{f['scan_spacing_mm']:.3f} mm"),
        ("Alignment score (truncated mean distance)", f"{f['alignment_score_mm']:.4f} mm"),
    ]  # fmt: skip


def render_report(inspection: Inspection, heatmap_png: bytes, *, inspected_by: str | None = None,
                  inspected_at: str | None = None) -> str:
    from jinja2 import Environment, select_autoescape

    source = resources.files("hospfab.inspect").joinpath("templates/report.html.j2").read_text("utf-8")
    env = Environment(autoescape=select_autoescape(default_for_string=True, default=True))
    template = env.from_string(source)
    data = inspection.as_dict()
    return template.render(
        verdict=inspection.verdict, scan_name=Path(inspection.scan).name, reference=inspection.reference,
        tolerance_mm=inspection.tolerance_mm, tolerance_source=inspection.tolerance_source,
        inspected_at=inspected_at or datetime.now().astimezone().isoformat(timespec="seconds"),
        inspected_by=inspected_by, findings=data["findings"], rows=_rows(inspection.figures),
        heatmap_b64=base64.b64encode(heatmap_png).decode("ascii"), dimensions=inspection.dimensions,
        scan_sha256=inspection.scan_sha256, reference_sha256=inspection.reference_sha256,
        pose=data["pose"]["matrix"],
    )  # fmt: skip


def write_report(path: Path, inspection: Inspection, heatmap_png: bytes, **kwargs: Any) -> Path:
    return atomic_write_text(path, render_report(inspection, heatmap_png, **kwargs))
