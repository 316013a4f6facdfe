#!/usr/bin/env python3
"""Regenerate the seed catalog end to end: parametric model -> new -> build recipes -> validate (demo key).

    .venv/bin/python scripts/build_seed_catalog.py [--catalog catalog] [--key FILE] [--reslice]

Each reference's geometry comes from ``catalog/<REF>/model.py`` (run to produce the STL); its metadata and
recipes are declared below. When the script reproduces the shipped STL, the shipped G-code is kept (slicer
output is not reproducible); ``--reslice`` slices again. The demo validator key is NOT in the repository:
unless ``--key`` is given, the script uses ``<hospfab config>/keys/demo-validator.key`` (created on first use,
mode 0600, unencrypted: a demo key), ships its public half as ``catalog/keys/demo-validator.pub`` and pins it
in a trust store of its own for the run. The whole seed catalog and its signed index are rebuilt together
(a new catalog id). The seed entries are examples, not clinically validated devices.
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

EXAMPLE = "EXAMPLE ENTRY, not a clinically validated device."
SAMPLING = {"lot_size": 100, "sample_size": 1,
            "method": "random draw; the whole lot is quarantined if the sample fails"}


def dim(name: str, nominal_mm: float, tolerance_mm: float) -> dict:
    return {"name": name, "nominal_mm": nominal_mm, "tolerance_mm": tolerance_mm}


PETG_CLEANING = ("Wipe with a hospital surface disinfectant compatible with PETG (70 % alcohol, quaternary "
                 "ammonium, 0.1 % chlorine); no autoclave (PETG softens above 70 C).")
SEED: dict[str, dict] = {
    "VISOR-HEADBAND": {
        "title": "Face-shield headband for a punched A4 sheet",
        "meta": {
            "category": "PPE",
            "intended_use": "Holds a transparent A4 sheet (punched with a standard 4-hole office punch) as a "
                            "face shield over surgical masks during aerosol-free care. " + EXAMPLE,
            "intended_users": ["nurses", "care assistants", "physicians"],
            "limitations": ["Splash protection only, not a respirator", "Single user; disinfect between shifts"],
            "contraindications": ["Sterile field", "Aerosol-generating procedures without an FFP2/FFP3 mask"],
            "source": "hospfab seed catalog; geometry after the open Prusa RC3 face-shield concept",
            "licence": "CC0-1.0",
            "post_processing": ["Remove brim and stringing", "Check the four pins are whole",
                                "Punch an A4 PETG/PVC sheet 0.3-0.5 mm along its long edge and clip it on"],
            "cleaning": PETG_CLEANING,
            "acceptance": {"surface_tolerance_mm": 0.5,
                           "dimensions": [dim("pin spacing", 80, 1), dim("band height", 10, 0.3)],
                           "fit_test": "An A4 sheet punched with a 4-hole punch clips on and stays on when "
                                       "the headband is shaken"},
            "sampling": SAMPLING,
        },
        "recipes": [("prusa-mk4", "petg", "draft", 1), ("prusa-mk3s", "petg", "draft", 1)],
    },
    "EAR-SAVER": {
        "title": "Mask ear saver (strap extender)",
        "meta": {
            "category": "PPE",
            "intended_use": "Takes the pull of surgical-mask ear loops off the ears during long shifts. " + EXAMPLE,
            "intended_users": ["all staff"],
            "limitations": ["Personal item, one per user"],
            "contraindications": ["Not to be used with respirators whose seal depends on strap tension"],
            "source": "hospfab seed catalog", "licence": "CC0-1.0",
            "post_processing": ["Remove stringing; no sharp edges in the notches"],
            "cleaning": PETG_CLEANING,
            "acceptance": {"surface_tolerance_mm": 0.4,
                           "dimensions": [dim("length", 150, 1), dim("thickness", 1.6, 0.2)],
                           "fit_test": "Bends to a 60 mm radius without cracking; ear loops stay in the notches"},
            "sampling": SAMPLING,
        },
        "recipes": [("prusa-mk4", "petg", "standard", 4), ("prusa-mini", "petg", "standard", 2)],
    },
    "DOOR-OPENER": {
        "title": "Hands-free door handle hook",
        "meta": {
            "category": "infection-control",
            "intended_use": "Clips on a round lever handle so doors open with the forearm. " + EXAMPLE,
            "intended_users": ["all staff", "facilities"],
            "limitations": ["Round lever handles 19-22 mm only", "Check the clip after each cleaning round"],
            "contraindications": ["Fire doors whose handle must stay unmodified"],
            "source": "hospfab seed catalog", "licence": "CC0-1.0",
            "post_processing": ["Remove brim", "Test the snap fit on a 21 mm bar"],
            "cleaning": PETG_CLEANING,
            "acceptance": {"surface_tolerance_mm": 0.3,
                           "dimensions": [dim("clamp bore", 21, 0.3), dim("mouth", 17, 0.3)],
                           "fit_test": "Snaps onto a 21 mm bar and does not rotate under a 20 N pull on the hook"},
            "sampling": SAMPLING,
        },
        "recipes": [("prusa-mk4", "petg", "draft", 1), ("prusa-mk3s", "petg", "draft", 1)],
    },
    "RESP-CONNECTOR-22M": {
        "title": "Respiratory coupler 22M/22M (ISO 5356-1 style cones)",
        "meta": {
            "category": "respiratory",
            "intended_use": "Joins two breathing-circuit components with 22 mm female sockets when the "
                            "moulded coupler is out of stock. " + EXAMPLE,
            "intended_users": ["respiratory therapists", "anaesthesia technicians", "biomedical engineers"],
            "limitations": ["Single patient use", "Leak test every part before use"],
            "contraindications": ["Do not sterilise", "Not for high-pressure oxygen lines"],
            "source": "hospfab seed catalog; cone geometry per ISO 5356-1 (22 mm, 1:40 taper)",
            "licence": "CC0-1.0",
            "post_processing": ["No support to remove", "Do not sand the cones"],
            "cleaning": PETG_CLEANING,
            "acceptance": {"surface_tolerance_mm": 0.1,
                           "dimensions": [dim("cone diameter at the collar", 22.0, 0.1),
                                          dim("cone diameter at the tip", 21.6, 0.1)],
                           "fit_test": "ISO 5356-1 ring gauge; no audible leak at 60 cmH2O for 30 s"},
            "sampling": {"lot_size": 20, "sample_size": 2,
                         "method": "2 parts drawn at random per lot of 20 are leak-tested; lot rejected on any leak"},
        },
        "recipes": [("prusa-mk4", "petg", "airtight", 1), ("prusa-mini", "petg", "airtight", 1)],
    },
    "TUBE-RACK-16": {
        "title": "Rack for 6 swab or test tubes (16 mm)",
        "meta": {
            "category": "laboratory",
            "intended_use": "Holds swab transport tubes or 16 mm test tubes upright at the sampling point. "
                            + EXAMPLE,
            "intended_users": ["nurses", "laboratory technicians"],
            "limitations": ["Tubes up to 16 mm diameter"],
            "contraindications": ["Not for centrifuge or autoclave use"],
            "source": "hospfab seed catalog", "licence": "CC0-1.0",
            "post_processing": ["Remove brim"], "cleaning": PETG_CLEANING,
            "acceptance": {"surface_tolerance_mm": 0.5, "dimensions": [dim("hole diameter", 17, 0.3)],
                           "fit_test": "A 16 mm tube drops in and stands upright without wobble"},
            "sampling": SAMPLING,
        },
        "recipes": [("prusa-mk4", "petg", "draft", 1), ("prusa-mk3s", "petg", "draft", 1)],
    },
    "KNOB-D6-30": {
        "title": "Control knob 30 mm for a 6 mm D-shaft",
        "meta": {
            "category": "equipment-spare",
            "intended_use": "Replaces a lost or cracked control knob on a flowmeter or suction regulator with "
                            "a 6 mm D-shaft. " + EXAMPLE,
            "intended_users": ["biomedical engineers", "technicians"],
            "limitations": ["Check the scale pointer lines up before returning the device to service"],
            "contraindications": ["Not for knobs that are part of a safety interlock"],
            "replaces": {"equipment": "Flowmeter / suction regulator with a 6 mm D-shaft (generic)",
                         "oem_part_number": "n/a (generic)", "manufacturer": "various"},
            "source": "hospfab seed catalog", "licence": "CC0-1.0",
            "post_processing": ["Press onto the shaft by hand; do not glue"], "cleaning": PETG_CLEANING,
            "acceptance": {"surface_tolerance_mm": 0.2,
                           "dimensions": [dim("bore", 6.1, 0.1), dim("across the flat", 4.6, 0.1)],
                           "fit_test": "Turns the shaft through its full range without slipping"},
            "sampling": SAMPLING,
        },
        "recipes": [("prusa-mk4", "petg", "standard", 1), ("prusa-mini", "petg", "standard", 1)],
    },
}


def demo_key(catalog: Path, key: Path | None) -> Path:
    """The demo validator's private key (created unencrypted on first use, outside the repository); its public
    half is shipped as ``keys/demo-validator.pub`` so that the demo and the tests can pin it."""
    from hospfab.catalog.signing import fingerprint, generate_key_pair, load_private_key, public_pem
    from hospfab.settings import Settings

    if key is None:
        key = Settings.resolve().config_dir / "keys" / "demo-validator.key"
        if not key.exists():
            generate_key_pair("demo-validator", key.parent, catalog_root=catalog)
    private = load_private_key(key, os.environ.get("HOSPFAB_KEY_PASSPHRASE"))
    (catalog / "keys").mkdir(parents=True, exist_ok=True)
    (catalog / "keys" / "demo-validator.pub").write_bytes(public_pem(private.public_key()))
    print(f"demo validator key {fingerprint(private.public_key())}: {key} (shipped as keys/demo-validator.pub; "
          f"pin it in demo.py DEMO_KEY_ID)")
    return key


def pin_demo_key(catalog: Path, work: Path) -> Path:
    """A trust store for this run only, pinning the demo key as 'Demo Validator'."""
    from hospfab.trust import TrustStore

    store = TrustStore.load(work / "trust.yaml")
    store.trust(catalog / "keys" / "demo-validator.pub", name="Demo Validator",
                roles=["biomedical engineer (demo key)"])
    return store.save()


def reuse_build(old: Path | None, stl: Path, printer: str, material: str, process: str):
    """The recipe of the shipped revision when its model is unchanged (slicer output is not reproducible:
    existing G-code is kept rather than sliced again)."""
    import yaml

    from hospfab.catalog.files import sha256_file

    if old is None or not (old / "revision.yaml").is_file():
        return None
    meta = yaml.safe_load((old / "revision.yaml").read_text())
    if meta["model"]["sha256"] != sha256_file(stl):
        return None
    for recipe in meta.get("recipes", []):
        if (recipe["printer"], recipe["material"], recipe["process"]) == (printer, material, process):
            gcode = old / recipe["build_file"]
            if gcode.is_file() and sha256_file(gcode) == recipe["sha256"]:
                return gcode, recipe
    return None


def build_one(ref: str, spec: dict, cat, key: Path, work: Path, old: Path | None, reslice: bool) -> None:
    script = REPO / "catalog" / ref / "model.py"
    namespace = runpy.run_path(str(script))
    stl = work / f"{ref}.stl"
    namespace["write_stl"](namespace["build"](), stl)
    if old is not None and (old / "model.stl").is_file() and not reslice:
        from hospfab.catalog.files import sha256_file

        if sha256_file(old / "model.stl") != sha256_file(stl):
            print(f"  {ref}: the model script no longer reproduces the shipped STL byte for byte; re-slicing")
    cat.new(ref, spec["title"], stl, meta=spec["meta"], source=script, model_script=script)
    for printer, material, process, copies in spec["recipes"]:
        started = time.monotonic()
        kept = None if reslice else reuse_build(old, stl, printer, material, process)
        if kept is not None:
            gcode, r = kept
            revision = cat.add_recipe(f"{ref}@1", gcode, printer=printer, material=material, process=process,
                                      copies=r["copies"], slicer=r.get("slicer", ""), layers=r.get("layers"),
                                      estimates=r.get("estimates") or {})
            how = "kept"
        else:
            revision = cat.build(f"{ref}@1", printer, material, process, copies=copies)
            how = "sliced"
        recipe = revision.recipe_for(printer, material)
        size = recipe.build_file.stat().st_size / 1e6
        print(f"  {ref}: {printer}/{material}/{process} x{recipe.copies}: {size:.1f} MB ({how}), "
              f"{recipe.estimates.get('print_time_s')} s print, {time.monotonic() - started:.1f} s")
    cat.validate(f"{ref}@1", key_file=key, passphrase=os.environ.get("HOSPFAB_KEY_PASSPHRASE"),
                 test_print="none: seed example built by scripts/build_seed_catalog.py",
                 inspection="EXAMPLE ONLY: no physical inspection; not a clinically validated device")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=REPO / "catalog")
    parser.add_argument("--profiles", type=Path, default=REPO / "profiles")
    parser.add_argument("--key", type=Path, default=None, help="validator private key (default: demo key)")
    parser.add_argument("--reslice", action="store_true", help="slice again even when the model is unchanged")
    args = parser.parse_args()
    from hospfab.catalog import Catalog
    from hospfab.catalog.checks import RealChecks

    catalog = args.catalog.resolve()
    key = demo_key(catalog, args.key)
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        trust = pin_demo_key(catalog, work)
        staging = Path(tempfile.mkdtemp(dir=catalog, prefix=".seed-"))
        try:
            cat = Catalog(staging, checks=RealChecks(args.profiles), trust=trust, seen=work / "seen.sqlite3")
            for ref in SEED:
                print(f"{ref}:")
                old = catalog / ref / "rev-1"
                build_one(ref, SEED[ref], cat, key, work, old if old.is_dir() else None, args.reslice)
            for ref in SEED:  # swap in: keep each reference's model.py, replace everything else
                target = catalog / ref
                for child in target.iterdir():
                    if child.name != "model.py":
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
                for child in (staging / ref).iterdir():
                    if child.name != "model.py":
                        shutil.move(str(child), target / child.name)
            shutil.move(str(staging / "index.json"), catalog / "index.json")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        failed = [o for o in Catalog(catalog, trust=trust, seen=work / "seen2.sqlite3").verify() if not o["ok"]]
    for o in failed:
        print(f"FAIL {o['ref']}@{o['rev']}: {o['error']}")
    print("catalog verified" if not failed else f"{len(failed)} revision(s) failed verification")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
