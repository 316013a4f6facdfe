"""Catalog figures: verifying the shipped catalog and rendering previews.

`catalog verify` checks every file's sha256, the part metadata, each Ed25519 signature against the site trust
store, the approval policy and the signed index (with the journal's highest version seen). The baseline
measured in the same run is the floor of that work: hashing every file of the catalog once. Before the trust
model (format 1: manifest + one signature, keys from the catalog, 6 revisions and 16 G-code files), the old
code on the old seed catalog took 0.15-0.27 s on this machine (quiet) and this one 0.20-0.34 s (0.33-0.46 s
against 0.58-0.91 s when the machine was busy): the extra is YAML parsing of the signature records and part.yaml, the trust store and one
SQLite transaction for the index version seen; Ed25519 checks cost well under 1 ms each.

Run: .venv/bin/python bench/catalog_bench.py   (uses a temporary HOSPFAB_HOME pinning the demo key)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main() -> None:
    import os
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="hospfab-bench-"))
    os.environ["HOSPFAB_HOME"] = str(home)
    from hospfab.catalog import Catalog
    from hospfab.catalog.files import sha256_file
    from hospfab.catalog.preview import _load_triangles, render_png
    from hospfab.trust import TrustStore

    store = TrustStore.load(home / "trust.yaml")
    store.trust(REPO / "catalog" / "keys" / "demo-validator.pub", name="Demo Validator", roles=["demo"])
    store.save()
    catalog = Catalog(REPO / "catalog", trust=home / "trust.yaml", seen=home / "journal.sqlite3")
    files = [p for p in catalog.root.rglob("*") if p.is_file()]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    for attempt in ("cold", "warm", "warm"):
        started = time.perf_counter()
        for path in files:
            sha256_file(path)
        floor = time.perf_counter() - started
        started = time.perf_counter()
        outcomes = Catalog(REPO / "catalog", trust=home / "trust.yaml", seen=home / "journal.sqlite3").verify()
        elapsed = time.perf_counter() - started
        ok = sum(o["ok"] for o in outcomes)
        print(f"verify whole catalog ({attempt}): {len(outcomes)} revisions ({ok} ok), {size_mb:.1f} MB, "
              f"{elapsed:.2f} s, {size_mb / elapsed:.0f} MB/s; hashing every file once: {floor:.2f} s; "
              f"ratio verify/hash {elapsed / floor:.2f}")
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
