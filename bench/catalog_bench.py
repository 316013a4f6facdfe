"""Catalog figures: verifying the shipped catalog (sha256 + Ed25519) and rendering previews.

Run: .venv/bin/python bench/catalog_bench.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main() -> None:
    from hospfab.catalog import Catalog
    from hospfab.catalog.preview import _load_triangles, render_png

    catalog = Catalog(REPO / "catalog")
    files = [p for p in catalog.root.rglob("*") if p.is_file()]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    for attempt in ("cold", "warm"):
        started = time.perf_counter()
        outcomes = catalog.verify()
        elapsed = time.perf_counter() - started
        ok = sum(o["ok"] for o in outcomes)
        print(f"verify whole catalog ({attempt}): {len(outcomes)} revisions ({ok} ok), {size_mb:.1f} MB, "
              f"{elapsed:.2f} s, {size_mb / elapsed:.0f} MB/s")
    started = time.perf_counter()
    revision = catalog.resolve("VISOR-HEADBAND")
    catalog.verify_revision(revision)
    print(f"resolve + verify_revision VISOR-HEADBAND: {(time.perf_counter() - started) * 1000:.0f} ms")
    for part in catalog.list():
        revision = part.latest_validated
        triangles = _load_triangles(revision.model_file)
        started = time.perf_counter()
        render_png(triangles)
        print(f"preview {part.ref}: {len(triangles)} facets, {(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
