"""Profiles: every shipped profile loads; bad YAML, bad values, unknown keys and names give clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hospfab.errors import ConfigError, ExitCode, NotFoundError
from hospfab.profiles import ProfileStore
from hospfab.profiles.models import KIND_DIRS

SHIPPED = Path(__file__).resolve().parents[1] / "profiles"
SHIPPED_FILES = sorted(
    (kind, p.stem) for kind, folder in KIND_DIRS.items() for p in (SHIPPED / folder).glob("*.yaml")
)


@pytest.fixture
def store() -> ProfileStore:
    return ProfileStore(SHIPPED)


@pytest.mark.parametrize(("kind", "name"), SHIPPED_FILES, ids=[f"{k}/{n}" for k, n in SHIPPED_FILES])
def test_every_shipped_profile_loads(store, kind, name):
    profile = store.get(kind, name)
    assert profile.name == name and profile.kind == kind
    assert profile.description


def test_required_profiles_are_shipped(store):
    volumes = {
        "prusa-mk4": (250, 210, 220),
        "prusa-mk3s": (250, 210, 210),
        "prusa-mini": (180, 180, 180),
        "creality-ender3-v2": (220, 220, 250),
    }
    for name, volume in volumes.items():
        printer = store.printer(name)
        assert printer.build_volume_mm == tuple(float(v) for v in volume)
        assert printer.nozzle_diameter_mm == 0.4
        assert "G28" in printer.start_gcode and printer.end_gcode
    assert any(store.printer(n).build_volume_mm[0] >= 400 for n in store.names("printer"))
    assert {"pla", "petg", "abs"} <= set(store.names("material"))
    assert len(store.names("material")) >= 4
    assert store.process("draft").layer_height_mm == 0.3
    assert store.process("standard").layer_height_mm == 0.2
    airtight = store.process("airtight")
    assert airtight.layer_height_mm == 0.2 and airtight.fill_density_percent == 100


def test_virtual_test_printer_never_waits_for_heat(store):
    printer = store.printer("virtual-test")
    assert printer.test_only and "test" in printer.description.lower()
    assert "M109" not in printer.start_gcode and "M190" not in printer.start_gcode
    assert "M104" in printer.start_gcode and "M140" in printer.start_gcode


def test_materials_have_consistent_windows(store):
    for name in store.names("material"):
        m = store.material(name)
        assert m.nozzle_temp_min_c <= m.nozzle_temp_c <= m.nozzle_temp_max_c
        assert m.bed_temp_min_c <= m.bed_temp_c <= m.bed_temp_max_c
        assert m.density_g_cm3 > 0 and m.disinfection_methods


def test_inherits_merges_parent_and_child(store):
    draft, standard = store.process("draft"), store.process("standard")
    assert draft.inherits == "standard"
    assert draft.layer_height_mm == 0.3  # own value
    assert draft.infill_speed_mm_s == standard.infill_speed_mm_s  # inherited
    big = store.printer("creality-cr10-s5")
    assert big.start_gcode == store.printer("creality-ender3-v2").start_gcode
    assert big.build_volume_mm == (500.0, 500.0, 500.0)


def _write(root: Path, kind: str, name: str, text: str) -> Path:
    path = root / KIND_DIRS[kind] / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


PRINTER = "build_volume_mm: [200, 200, 200]\nmax_nozzle_temp_c: 280\nmax_bed_temp_c: 110\n"


def test_out_of_range_value_names_file_key_and_range(tmp_path):
    path = _write(tmp_path, "printer", "p", PRINTER + "nozzle_diameter_mm: 5\n")
    with pytest.raises(ConfigError) as err:
        ProfileStore(tmp_path).printer("p")
    msg = err.value.message
    assert str(path) in msg and "nozzle_diameter_mm" in msg and "0.1 to 2" in msg
    assert err.value.exit_code == ExitCode.USAGE


def test_unknown_key_is_rejected(tmp_path):
    _write(tmp_path, "printer", "p", PRINTER + "nozle_diameter_mm: 0.4\n")
    with pytest.raises(ConfigError, match="unknown key 'nozle_diameter_mm'"):
        ProfileStore(tmp_path).printer("p")


def test_build_volume_bounds(tmp_path):
    _write(tmp_path, "printer", "p", PRINTER.replace("[200, 200, 200]", "[200, 5, 200]"))
    with pytest.raises(ConfigError, match=r"build_volume_mm.*Y must be between 10 and 2000"):
        ProfileStore(tmp_path).printer("p")


def test_broken_yaml_names_file_and_line(tmp_path):
    path = _write(tmp_path, "material", "m", "density_g_cm3: [1.2\n")
    with pytest.raises(ConfigError) as err:
        ProfileStore(tmp_path).material("m")
    assert str(path) in err.value.message and "line" in err.value.message


def test_material_temperature_outside_its_window(tmp_path):
    _write(
        tmp_path, "material", "m",
        "density_g_cm3: 1.2\nnozzle_temp_min_c: 200\nnozzle_temp_max_c: 220\nnozzle_temp_c: 250\n"
        "bed_temp_min_c: 50\nbed_temp_max_c: 70\nbed_temp_c: 60\n",
    )
    with pytest.raises(ConfigError, match="nozzle_temp_c must be between 200 and 220"):
        ProfileStore(tmp_path).material("m")


def test_unknown_profile_lists_available(store):
    with pytest.raises(NotFoundError) as err:
        store.printer("prusa-mk9")
    assert "prusa-mk4" in err.value.message and "prusa-mk9" in err.value.message
    with pytest.raises(NotFoundError):
        store.printer("../materials/pla")


def test_inheritance_cycle_and_missing_parent(tmp_path):
    _write(tmp_path, "process", "a", "inherits: b\nlayer_height_mm: 0.2\n")
    _write(tmp_path, "process", "b", "inherits: a\n")
    _write(tmp_path, "process", "c", "inherits: ghost\nlayer_height_mm: 0.2\n")
    store = ProfileStore(tmp_path)
    with pytest.raises(ConfigError, match="cycle a -> b -> a"):
        store.process("a")
    with pytest.raises(ConfigError, match="inherits.*ghost"):
        store.process("c")


def test_check_all_collects_every_error(tmp_path):
    _write(tmp_path, "printer", "good", PRINTER)
    _write(tmp_path, "printer", "bad", "build_volume_mm: nope\n")
    results = {r.name: r for r in ProfileStore(tmp_path).check_all()}
    assert results["good"].ok and not results["bad"].ok and "bad.yaml" in results["bad"].error


# -- CLI ---------------------------------------------------------------------------------------------------
def test_cli_profiles_check_passes_on_shipped(cli):
    out = cli("profiles", "check", "--json")
    doc = out.json()
    assert out.exit_code == 0, doc["errors"]
    assert doc["data"]["invalid"] == 0 and doc["data"]["valid"] == len(SHIPPED_FILES)


def test_cli_profiles_check_fails_on_bad_folder(cli, tmp_path):
    _write(tmp_path, "printer", "bad", PRINTER + "max_bed_temp_c: 900\n")
    out = cli("--profiles", tmp_path, "profiles", "check")
    assert out.exit_code == 1
    assert "Error:" in out.stderr and "max_bed_temp_c" in out.stderr and "Traceback" not in out.stderr


def test_cli_list_and_show_resolved(cli):
    doc = cli("profiles", "list", "--json").json()
    refs = {p["ref"] for p in doc["data"]["profiles"]}
    assert {"printer/prusa-mk4", "material/pla", "process/airtight"} <= refs
    doc = cli("profiles", "show", "process/draft", "--json").json()
    assert doc["ok"] and doc["data"]["layer_height_mm"] == 0.3 and doc["data"]["inherits"] == "standard"
    assert doc["data"]["perimeter_speed_mm_s"] == 45  # from standard
    out = cli("profiles", "show", "printer/prusa-mk4")
    assert out.exit_code == 0 and "build_volume_mm" in out.stdout and "M862.3" in out.stdout


def test_cli_show_unknown_profile(cli):
    out = cli("profiles", "show", "printer/nope", "--json")
    assert out.exit_code == 2
    assert out.json()["errors"][0]["code"] == "unknown_profile"
    out = cli("profiles", "show", "nope")
    assert out.exit_code == 2 and "KIND/NAME" in out.stderr


def test_prusa_printers_keep_their_stock_purge_line_beside_the_bed(store):
    for name, purge in (("prusa-mk3s", "G1 Y-3 F1000 ; go outside print area"), ("prusa-mini", "G1 Y-2 X179 F2400"),
                        ("prusa-mk4", "G0 X0 Y-4 Z15 F4800 ; move away and ready for the purge")):
        p = store.printer(name)
        assert purge in p.start_gcode.splitlines()
        assert p.travel_area_mm == ((0.0, p.build_volume_mm[0]), (-4.0, p.build_volume_mm[1]))
    ender = store.printer("creality-ender3-v2")
    assert ender.travel_area_mm == ((0.0, 220.0), (0.0, 220.0)) and ender.min_extrude_temp_c == 170


@pytest.mark.parametrize(("line", "words"), [
    ("travel_y_mm: [1, 200]", "travel_y_mm must contain the bed 0..200"),
    ("travel_x_mm: [0, 199]", "travel_x_mm must contain the bed 0..200"),
    ("travel_x_mm: [-51, 200]", "at most 50 mm beyond it (got [-51, 200])"),
    ("travel_y_mm: [0, 250.5]", "at most 50 mm beyond it"),
    ("allowed_firmware_commands: [M999]", "unknown firmware command(s) M999"),
    ("min_extrude_temp_c: 400", "min_extrude_temp_c"),
    ("max_chamber_temp_c: -1", "max_chamber_temp_c"),
])
def test_travel_area_and_firmware_settings_are_validated(tmp_path, line, words):
    _write(tmp_path, "printer", "p", PRINTER + line + "\n")
    with pytest.raises(ConfigError) as err:
        ProfileStore(tmp_path).printer("p")
    assert words in err.value.message


def test_travel_area_at_its_limits_loads(tmp_path):
    _write(tmp_path, "printer", "p", PRINTER + "travel_x_mm: [-50, 250]\ntravel_y_mm: [0, 200]\n"
           "allowed_firmware_commands: [M500, M211]\n")
    p = ProfileStore(tmp_path).printer("p")
    assert p.travel_area_mm == ((-50.0, 250.0), (0.0, 200.0))
    assert p.allowed_firmware_commands == ("M500", "M211")
