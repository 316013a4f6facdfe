"""`hospfab inspect` from files: exit codes, report and heat map, unreadable input, tolerance rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scans import defective, make_scan

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog"
RACK = CATALOG / "TUBE-RACK-16/rev-1/model.stl"


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    from hospfab.inspect.scan import read_reference

    folder = tmp_path_factory.mktemp("scans")
    rack = read_reference(RACK)[0]
    good = make_scan(rack, np.random.default_rng(21), points=2500, mesh=True)
    good.write(folder / "good.ply")
    bad = make_scan(defective(rack, shrink=0.02), np.random.default_rng(22), points=2500)
    bad.write(folder / "shrunk.ply")
    return folder


def test_good_scan_passes_and_writes_report_and_heatmap(cli, scans, tmp_path):
    report, png = tmp_path / "r.html", tmp_path / "h.png"
    out = cli("--catalog", CATALOG, "inspect", scans / "good.ply", "--against", "TUBE-RACK-16@1", "--tolerance",
              "0.3", "--report", report, "--heatmap", png, "--json")  # fmt: skip
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert data["verdict"] == "pass" and data["reference"] == "TUBE-RACK-16@1" and data["tolerance_mm"] == 0.3
    assert len(data["scan_sha256"]) == 64 and data["figures"]["area_weighted"] is True
    (hole,) = data["dimensions"]  # the revision's named dimension, measured on the scan
    assert hole["name"] == "hole diameter" and hole["status"] == "pass" and abs(hole["measured_mm"] - 17.0) < 0.1
    html = report.read_text()
    assert "hole diameter" in html
    assert "PASS" in html and "data:image/png;base64," in html and "TUBE-RACK-16@1" in html
    assert "http://" not in html and "https://" not in html  # works offline
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shrunk_part_fails_with_exit_1(cli, scans):
    out = cli("inspect", scans / "shrunk.ply", "--against", RACK, "--tolerance", "0.3")
    assert out.exit_code == 1
    assert "FAIL" in out.stdout and "shrinkage" in out.stderr


def test_unreadable_scan_and_missing_tolerance_exit_2_in_one_line(cli, tmp_path, scans):
    broken = tmp_path / "broken.stl"
    broken.write_bytes(b"solid x\nfacet normal 0 0 1\n outer loop\n vertex 1 2\n")
    out = cli("inspect", broken, "--against", RACK, "--tolerance", "0.3")
    assert out.exit_code == 2 and "broken.stl" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
    out = cli("inspect", tmp_path / "nope.ply", "--against", RACK, "--tolerance", "0.3")
    assert out.exit_code == 2 and "not found" in out.stderr
    # a bare reference mesh has no acceptance criteria: the tolerance must be given
    out = cli("inspect", scans / "good.ply", "--against", RACK)
    assert out.exit_code == 2 and "give --tolerance" in out.stderr
    # a catalog revision brings its own, from its signed acceptance criteria
    out = cli("--catalog", CATALOG, "inspect", scans / "good.ply", "--against", "TUBE-RACK-16@1", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    assert "acceptance" in out.json()["data"]["tolerance_source"]


def test_tolerance_may_only_tighten_the_acceptance_criteria():
    from hospfab.errors import InputError
    from hospfab.inspect.run import Reference, choose_tolerance

    ref = Reference("X@1", RACK, None, "0", tolerance_mm=0.4)
    assert choose_tolerance(None, ref) == (0.4, "X@1 acceptance criteria")
    assert choose_tolerance(0.2, ref) == (0.2, "command line")
    with pytest.raises(InputError, match="looser"):
        choose_tolerance(0.5, ref)
