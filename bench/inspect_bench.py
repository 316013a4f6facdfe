"""Benchmark: `hospfab inspect` on a 1M-point scan against a ~50k-facet reference, and alignment accuracy.

1. **Speed and memory.** A synthetic 1M-point scan (binary PLY: surface samples, noise 0.03 mm, base hidden,
   one region in shadow, random pose) of the reference (the corpus propeller, 49k facets; without the corpus
   the rack subdivided to ~93k facets). Times, as separate processes measured by GNU time (wall, peak RSS):
   `hospfab inspect SCAN --against REF --tolerance 0.3 --json`, and the baseline of the same run: a process
   that only loads the scan with trimesh. Prints the ratio.
2. **Accuracy.** Synthetic scans with a known pose (a few thousand points each) of asymmetric parts: the
   rotation error (degrees) and translation error (mm) of the found pose, for hospfab's alignment and for
   the baseline of a plain point-to-plane ICP from the identity rotation with the centroids matched.

Run: .venv/bin/python bench/inspect_bench.py [--points 1000000] [--trials 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from scans import make_scan  # noqa: E402

PY = sys.executable
TIME = "/usr/bin/time"
CORPUS = Path("/work/shared/corpus")
LOAD = "import sys, trimesh; c = trimesh.load(sys.argv[1]); print(len(c.vertices))"


def run(cmd: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system: steadier than wall on a shared machine), peak RSS MB, exit."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        start = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%U %S %M", "-o", out.name, *cmd], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - start
        user, system, rss = Path(out.name).read_text().strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(rss) / 1024, proc.returncode


def reference(folder: Path) -> Path:
    propeller = CORPUS / "makair-blower-propeller-v14.stl"
    if propeller.is_file():
        return propeller
    import trimesh

    mesh = trimesh.load_mesh(ROOT / "catalog/TUBE-RACK-16/rev-1/model.stl")
    mesh = mesh.subdivide().subdivide().subdivide()
    path = folder / "rack-fine.stl"
    mesh.export(path)
    return path


def chiral_part() -> np.ndarray:
    from manifold3d import Manifold

    solid = (Manifold.cube([50, 12, 8]) + Manifold.cube([12, 30, 8])
             + Manifold.cylinder(14, 4, circular_segments=32).translate([38, 6, 8]))  # fmt: skip
    mesh = solid.to_mesh()
    return np.asarray(mesh.vert_properties, np.float64)[:, :3][np.asarray(mesh.tri_verts, np.int64)]


def pose_errors(matrix: np.ndarray, scan, triangles: np.ndarray) -> tuple[float, float]:
    """Rotation error (deg) and translation error (mm, at the part's centre) of a scan->reference pose."""
    rot = matrix[:3, :3] @ scan.rotation
    # 2 asin(|R - I|_F / sqrt 8): arccos((trace - 1) / 2) is ill-conditioned near 0, and the report's matrix is
    # rounded to 6 decimals: that alone read as ~0.05 deg
    angle = float(np.degrees(2 * np.arcsin(min(np.linalg.norm(rot - np.eye(3)) / np.sqrt(8), 1.0))))
    centre = triangles.reshape(-1, 3).mean(axis=0)
    moved = matrix[:3, :3] @ (scan.rotation @ centre + scan.translation) + matrix[:3, 3]
    return angle, float(np.linalg.norm(moved - centre))


def plain_icp(triangles: np.ndarray, points: np.ndarray) -> np.ndarray:
    from hospfab.inspect.align import Pose, Registration
    from hospfab.inspect.distance import SurfaceIndex

    reg = Registration(SurfaceIndex(triangles))
    start = Pose(np.eye(3), reg.ref_centre - points.mean(axis=0))
    return reg.refine(points, reg.refine(points, start, exact=False, steps=60), steps=10).matrix()


def accuracy(trials: int) -> None:
    from hospfab.inspect.measure import inspect_scan
    from hospfab.inspect.scan import Scan, read_reference

    parts = {"chiral bracket": chiral_part()}
    for name in ("makair-oxygen-mixer-v4.stl", "hose-barb-tee.stl"):
        if (CORPUS / name).is_file():
            parts[name] = read_reference(CORPUS / name)[0]
    print(f"\nAlignment accuracy, {trials} random poses per part (rotation deg / translation mm):")
    print(f"{'part':32} {'hospfab median':>16} {'hospfab worst':>15} {'plain ICP median':>17} {'ICP worst':>11} "
          f"{'s/scan':>7}")  # fmt: skip
    for name, tri in parts.items():
        ours, base, seconds = [], [], []
        for trial in range(trials):
            scan = make_scan(tri, np.random.default_rng(100 + trial), points=4000)
            start = time.perf_counter()
            result = inspect_scan(Scan(Path("x"), "", scan.points, np.ones(len(scan.points)), 0, "point cloud"),
                                  tri, tolerance_mm=0.3, reference=name, reference_sha256="")  # fmt: skip
            seconds.append(time.perf_counter() - start)
            ours.append(pose_errors(np.array(result.pose["matrix"]), scan, tri))
            base.append(pose_errors(plain_icp(tri, scan.points), scan, tri))
        ours_a, base_a = np.array(ours), np.array(base)

        def fmt(values, how):
            return f"{how(values[:, 0]):.3f} / {how(values[:, 1]):.3f}"

        print(f"{name[:32]:32} {fmt(ours_a, np.median):>16} {fmt(ours_a, np.max):>15} {fmt(base_a, np.median):>17} "
              f"{fmt(base_a, np.max):>11} {np.median(seconds):7.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.skip_speed:
            from hospfab.inspect.scan import read_reference

            ref = reference(folder)
            tri = read_reference(ref)[0]
            scan = make_scan(tri, np.random.default_rng(7), points=args.points)
            path = folder / "scan.ply"
            scan.write(path)
            print(f"Reference {ref.name}: {len(tri)} facets; scan {len(scan.points)} points "
                  f"({path.stat().st_size / 1e6:.1f} MB binary PLY)")  # fmt: skip
            load = run([PY, "-c", LOAD, str(path)])
            inspect = run([PY, "-m", "hospfab", "inspect", str(path), "--against", str(ref), "--tolerance", "0.3",
                           "--json"])  # fmt: skip
            print(f"{'':28} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'exit':>5}")
            for name, (wall, cpu, rss, code) in (("load the scan (baseline)", load), ("hospfab inspect", inspect)):
                print(f"{name:28} {wall:8.1f} {cpu:8.1f} {rss:8.0f} {code:5d}")
            print(f"ratio inspect / load: wall {inspect[0] / load[0]:.1f}x, CPU {inspect[1] / load[1]:.1f}x, "
                  f"peak memory {inspect[2] / load[2]:.1f}x")
    if args.trials > 0:  # --trials 0: speed and memory only
        accuracy(args.trials)


if __name__ == "__main__":
    main()
