"""Each G-code safety check pinned by a test that fails when the check is removed or loosened: position
knowledge, every face of the allowed box (Z < 0 included), the travel area, cold extrusion, the bed minimum,
every heating command, repeated words, firmware-changing commands, bare CR line ends, no numpy warning."""

from __future__ import annotations

import warnings

import pytest

import hospfab.gcode.check as check_mod
from hospfab.gcode import check_gcode
from hospfab.profiles import MaterialProfile, PrinterProfile, ProfileStore

from tests.test_profiles import SHIPPED

STORE = ProfileStore(SHIPPED)
MK4, MK3S, PLA = STORE.printer("prusa-mk4"), STORE.printer("prusa-mk3s"), STORE.material("pla")
# MK4: bed 250 x 210 x 220, nozzle <= 290, bed <= 120, cold-extrusion limit 170; PLA 190-230 / 40-70 °C.
HOT = "M104 S215\nM140 S60\n"
START = "G90\nM83\n" + HOT + "G28\nG92 E0\n"


def printer(**extra) -> PrinterProfile:
    base = dict(name="p", build_volume_mm=(200, 200, 200), max_nozzle_temp_c=280, max_bed_temp_c=110)
    return PrinterProfile(**(base | extra))


def material(**extra) -> MaterialProfile:
    base = dict(name="m", density_g_cm3=1.24, nozzle_temp_min_c=160, nozzle_temp_max_c=230, nozzle_temp_c=200,
                bed_temp_min_c=0, bed_temp_max_c=70, bed_temp_c=60)
    return MaterialProfile(**(base | extra))


BOX = printer(build_volume_mm=(250, 210, 220), max_nozzle_temp_c=290, max_bed_temp_c=120)  # MK4's, no travel area


def check(tmp_path, text: str | bytes, p=MK4, m=PLA):
    path = tmp_path / "t.gcode"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return check_gcode(path, p, m)


def only(report, code: str) -> str:
    """The report fails with exactly ``code``; returns its first message."""
    assert report.codes == [code], report.errors
    for issue in report.issues:  # each issue carries the line its message names
        assert issue.message.startswith(f"line {issue.line}:"), (issue.line, issue.message)
    return report.issues[0].message


# -- position knowledge ----------------------------------------------------------------------------------
def test_relative_moves_before_homing_are_refused(tmp_path):
    msg = only(check(tmp_path, "G91\nG1 X400 Y400\n"), "unknown_position")
    assert msg.startswith("line 2: move on X before the X position is known")


def test_absolute_moves_before_homing_are_refused(tmp_path):
    r = check(tmp_path, "G90\nG1 X10 Y10 Z5\n")
    assert only(r, "unknown_position").startswith("line 2:")
    assert r.stats["issue_counts"]["unknown_position"] == 3  # X, Y and Z, each unprovable


def test_homing_one_axis_leaves_the_others_unknown(tmp_path):
    assert check(tmp_path, "G28 X\nG1 X10\n").ok
    assert "move on Y" in only(check(tmp_path, "G28 X\nG1 Y10\n"), "unknown_position")
    assert "move on Z" in only(check(tmp_path, "G28 X Y\nG1 Z10\n"), "unknown_position")
    assert check(tmp_path, "G28 W\nG1 X10 Y10 Z10\n").ok  # Prusa's "home all without mesh bed level"
    assert check(tmp_path, "N5 G28*12\nG1 X10 Y10 Z10\n").ok


def test_g92_declares_an_unknown_position(tmp_path):
    assert check(tmp_path, "G92 X10 Y10 Z5\nG1 X20 Y20 Z6\n").ok
    # declared at X10, 400 mm further right is X410: off the bed
    r = check(tmp_path, "G92 X10 Y10 Z5\nG91\nG1 X400\n")
    assert "X410.000" in only(r, "out_of_bounds")


def test_bare_g92_makes_positions_unknown(tmp_path):
    # "G92" alone is "all zero" to some firmwares and nothing to Marlin: the position cannot be proven
    only(check(tmp_path, "G28\nG1 X100 Y100\nG92\nG1 X10\n"), "unknown_position")


def test_an_arc_moves_x_and_y_even_when_it_names_neither(tmp_path):
    only(check(tmp_path, "G28 Z\nG2 I5 J0\n"), "unknown_position")


def test_extruder_only_moves_need_no_position(tmp_path):
    r = check(tmp_path, HOT + "M83\nG1 E5 F100\nG1 E-1\n")
    assert r.ok, r.errors


# -- the allowed box -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("move", "code"), [
    ("G1 X-0.5 Y10", "out_of_bounds"), ("G1 X250.5 Y10", "out_of_bounds"),
    ("G1 X10 Y-0.5", "out_of_bounds"), ("G1 X10 Y210.5", "out_of_bounds"),
    ("G1 X10 Y10 Z-0.5", "out_of_bounds"), ("G1 X10 Y10 Z220.5", "exceeds_max_height"),
])
def test_every_face_of_the_box(tmp_path, move, code):
    msg = only(check(tmp_path, START + move + "\n", BOX), code)
    assert msg.startswith("line 7: move to ")


@pytest.mark.parametrize("move", ["G1 X0 Y0 Z0", "G1 X250 Y210 Z220", "G1 X-0.009 Y210.009 Z-0.009"])
def test_the_faces_themselves_are_inside(tmp_path, move):
    r = check(tmp_path, START + move + "\n", BOX)
    assert r.ok, r.errors


def test_z_below_the_bed_is_refused_even_in_relative_mode(tmp_path):
    msg = only(check(tmp_path, START + "G1 Z0.2\nG91\nG1 Z-0.3\n"), "out_of_bounds")
    assert "Z-0.100" in msg


def test_travel_area_beside_the_bed_from_the_profile(tmp_path):
    purge = START + "G1 Z0.2\nG1 Y-3\nG1 X60 E9\n"
    assert MK3S.travel_area_mm == ((0.0, 250.0), (-4.0, 210.0))
    r = check(tmp_path, purge + "G1 X100 Y100\nG1 X120 Y100 E1\n", MK3S)
    assert r.ok, r.errors
    # the purge line in front of the bed is allowed travel, not part of the part's extents
    assert r.stats["extents_mm"] == {"x": [100.0, 120.0], "y": [100.0, 100.0], "z": [0.2, 0.2]}
    assert r.stats["travel_extents_mm"]["y"] == [-3.0, 100.0]
    assert "Y -4..210" in only(check(tmp_path, START + "G1 Y-5\n", MK3S), "out_of_bounds")
    only(check(tmp_path, START + "G1 X-1\n", MK3S), "out_of_bounds")  # only Y is widened
    only(check(tmp_path, purge, BOX), "out_of_bounds")  # the same purge on a plain bed
    wide = printer(travel_x_mm=(-10, 210))
    assert check(tmp_path, START + "G1 X-10 Y0\nG1 X210\n", wide).ok
    only(check(tmp_path, START + "G1 X211\n", wide), "out_of_bounds")


def test_arc_with_radius_is_boxed(tmp_path):
    # R form: the centre is within R of the start, so the circle lies within 2R of it (X240 + 12 > 250)
    only(check(tmp_path, START + "G1 X240 Y100\nG2 X240 Y100 R6\n"), "out_of_bounds")
    assert check(tmp_path, START + "G1 X100 Y100\nG2 X110 Y100 R6\n").ok


# -- temperatures ----------------------------------------------------------------------------------------
def test_extrusion_without_a_nozzle_temperature_is_refused(tmp_path):
    msg = only(check(tmp_path, "M140 S60\nG28\nM83\nG1 X10 Y10 E1\n"), "cold_extrusion")
    assert msg == "line 4: extrusion with the nozzle not set, below the printer's cold-extrusion limit 170 °C"


@pytest.mark.parametrize(("nozzle", "code"), [(0, "cold_extrusion"), (169, "cold_extrusion"),
                                                (170, None), (159, "cold_extrusion")])
def test_cold_extrusion_limit_of_the_printer(tmp_path, nozzle, code):
    # material minimum 150: only the printer's limit (170) applies
    m = material(nozzle_temp_min_c=150, nozzle_temp_c=200)
    r = check(tmp_path, f"M104 S{nozzle}\nG28\nM83\nG1 X10 Y10 E1\n", printer(), m)
    assert r.codes == ([code] if code else []), r.errors


def test_material_minimum_above_the_cold_limit(tmp_path):
    r = check(tmp_path, "M104 S189\nM140 S60\nG28\nM83\nG1 X10 Y10 E1\n")
    assert "below the material's minimum 190 °C" in only(r, "temperature_out_of_range")
    assert check(tmp_path, "M104 S190\nM140 S60\nG28\nM83\nG1 X10 Y10 E1\n").ok


def test_retraction_while_cold_is_not_extrusion(tmp_path):
    assert check(tmp_path, "M140 S60\nG28\nM83\nG1 E-2\nG1 X10 Y10\n").ok


def test_cold_extrusion_in_absolute_e_mode(tmp_path):
    only(check(tmp_path, "M140 S60\nG28\nM82\nG92 E0\nG1 X10 Y10 E1\n"), "cold_extrusion")


def test_temperature_dropped_mid_print_is_caught(tmp_path):
    r = check(tmp_path, START + "G1 X10 Y10 E1\nM104 S0\nG1 X20 E1\n")
    assert "line 9: extrusion with the nozzle at 0 °C" in only(r, "cold_extrusion")


@pytest.mark.parametrize(("bed", "state"), [("M140 S39\n", "at 39 °C"), ("", "not set")])
def test_bed_below_the_material_minimum(tmp_path, bed, state):
    r = check(tmp_path, "M104 S215\n" + bed + "G28\nM83\nG1 X10 Y10 E1\n")
    msg = only(r, "temperature_out_of_range")
    assert msg == f"line {4 + bool(bed)}: printing with the bed {state}, below the material's minimum bed " \
                  "temperature 40 °C"


def test_bed_at_the_material_minimum_passes(tmp_path):
    assert check(tmp_path, "M104 S215\nM140 S40\nG28\nM83\nG1 X10 Y10 E1\n").ok


def test_material_with_no_bed_minimum_needs_no_bed(tmp_path):
    assert check(tmp_path, "M104 S200\nG28\nM83\nG1 X10 Y10 E1\n", printer(), material()).ok


@pytest.mark.parametrize(("line", "words"), [
    ("M104 S291", "nozzle set to 291 °C, above the printer's limit 290"),
    ("M109 R291", "nozzle set to 291 °C, above the printer's limit 290"),
    ("M104 S231", "nozzle set to 231 °C, above the material's maximum 230"),
    ("M104 S-5", "nozzle set to -5 °C"),
    ("M140 S121", "bed set to 121 °C, above the printer's limit 120"),
    ("M190 S71", "bed set to 71 °C, above the material's maximum 70"),
    ("M190 R-1", "bed set to -1 °C"),
    ("M303 E0 S400", "nozzle autotune (M303) to 400 °C, above the printer's limit 290"),
    ("M303 S231", "nozzle autotune (M303) to 231 °C, above the material's maximum 230"),
    ("M303 E-1 S130", "bed autotune (M303) to 130 °C, above the printer's limit 120"),
    ("M303 E-2 S40", "chamber autotune (M303) to 40 °C, above the printer's no heated chamber"),
    ("M141 S40", "chamber set to 40 °C, above the printer's no heated chamber"),
    ("M191 R1", "chamber set to 1 °C, above the printer's no heated chamber"),
])
def test_every_heating_command_is_held_to_the_limits(tmp_path, line, words):
    msg = only(check(tmp_path, START + line + "\n"), "temperature_out_of_range")
    assert msg == f"line 7: {words}" + (" °C" if "limit" in words or "maximum" in words else "")


@pytest.mark.parametrize("line", ["M104 S290", "M104 S230", "M140 S70", "M303 E0 S230", "M303 E-1 S70",
                                  "M303", "M303 E-1", "M141 S0", "M104", "M109 T0 S215"])
def test_heating_within_the_limits_passes(tmp_path, line):
    r = check(tmp_path, START + line + "\n", m=material(nozzle_temp_max_c=290) if "290" in line else PLA)
    assert r.ok, r.errors


def test_heated_chamber_limit_from_the_profile(tmp_path):
    p = printer(max_chamber_temp_c=60)
    assert check(tmp_path, START + "M141 S60\nM191 S60\n", p, material()).ok
    only(check(tmp_path, START + "M191 S61\n", p, material()), "temperature_out_of_range")


# -- firmware reading ------------------------------------------------------------------------------------
@pytest.mark.parametrize("line", ["G1 X500 X10", "G1 X10 X500", "G0 Y5 Z1 Y6", "G1 E1 E2", "G2 X10 I5 I6"])
@pytest.mark.parametrize("chunk", [1 << 20, 16])
def test_a_repeated_axis_word_is_ambiguous(tmp_path, monkeypatch, line, chunk):
    monkeypatch.setattr(check_mod, "CHUNK_BYTES", chunk)
    r = check(tmp_path, START + "G1 X10 Y10\n" + line + "\n")
    assert "ambiguous_word" in r.codes, r.errors
    assert [i.line for i in r.issues if i.code == "ambiguous_word"] == [8]


def test_an_ambiguous_axis_becomes_unknown(tmp_path):
    r = check(tmp_path, START + "G1 X500 X10\nG1 X20\n")
    assert r.codes == ["ambiguous_word", "unknown_position"], r.errors
    assert check(tmp_path, START + "G1 X500 X10\nG28 X\nG1 X20\n").codes == ["ambiguous_word"]


def test_a_repeated_temperature_word_is_ambiguous(tmp_path):
    only(check(tmp_path, START + "M104 S200 S400\n"), "ambiguous_word")


@pytest.mark.parametrize("line", ["M211 S0", "M500", "M502", "M997", "M302 P1", "M302 S0", "M92 X10",
                                  "M206 X5", "M428", "M851 Z-2", "N3 m500*7"])
def test_firmware_changing_commands_are_refused(tmp_path, line):
    command = line.split()[0] if not line.startswith("N") else "M500"
    msg = only(check(tmp_path, START + line + "\n"), "firmware_command")
    assert msg.startswith(f"line 7: {command} ") and "allowed_firmware_commands" in msg


@pytest.mark.parametrize("line", ["M211", "M211 S1", "M302", "M92", "M206", "M851", "M503", "M501"])
def test_firmware_commands_that_only_report_pass(tmp_path, line):
    assert check(tmp_path, START + line + "\n").ok


def test_the_profile_may_allow_firmware_commands(tmp_path):
    p = printer(allowed_firmware_commands=("M500", "M211"))
    assert check(tmp_path, START + "M500\nM211 S0\n", p, material()).ok
    only(check(tmp_path, START + "M997\n", p, material()), "firmware_command")


@pytest.mark.parametrize("chunk", [1 << 20, 8, 9, 10, 11])
def test_a_bare_cr_ends_a_line(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(check_mod, "CHUNK_BYTES", chunk)
    r = check(tmp_path, (START + "G1 X10 Y10 ; parked\rG1 Z400\n").encode())
    assert "line 8: move to X10.000 Y10.000 Z400.000" in only(r, "exceeds_max_height")
    r = check(tmp_path, (START + "M117 hello\rM104 S400\r\nG1 X10\r\n").encode())
    assert "line 8: nozzle set to 400" in only(r, "temperature_out_of_range")
    assert r.stats["lines"] == 9


def test_a_cr_only_file_reads_line_by_line(tmp_path):
    r = check(tmp_path, START.replace("\n", "\r") + "G1 X10 Y10\rG1 Z-1\r")
    assert "line 8:" in only(r, "out_of_bounds")


# -- no warnings leak ------------------------------------------------------------------------------------
def test_no_numpy_warning_on_unknown_positions_or_huge_numbers(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = check(tmp_path, "G91\nG1 X400 Y400\nG90\nG1 X10\n")
        assert r.codes == ["unknown_position"]
        r = check(tmp_path, START + "G1 X" + "9" * 400 + "\nG91\nG1 X-" + "9" * 400 + "\nG1 Y1\n")
        assert r.codes == ["out_of_bounds"]
        r = check(tmp_path, START + "G2 X10 Y10 I" + "9" * 400 + "\n")
        assert "out_of_bounds" in r.codes


# -- the command ---------------------------------------------------------------------------------------------
def test_help_says_what_is_proven_and_what_is_not(cli):
    out = cli("gcode", "check", "--help")
    assert out.exit_code == 0
    text = " ".join(out.stdout.split())
    for words in ("Proven, reading each line as Marlin does", "no move on an axis before G28 homes it",
                  "cold-extrusion limit", "M303", "M211 S0", "Not proven: that the nozzle reached its target"):
        assert words in text


def test_cli_refuses_relative_moves_before_homing(cli, tmp_path):
    path = tmp_path / "j.gcode"
    path.write_text("G91\nG1 X400 Y400\n")
    out = cli("gcode", "check", path, "--printer", "prusa-mk4", "--material", "pla", "--json")
    assert out.exit_code == 1
    doc = out.json()
    assert doc["data"]["codes"] == ["unknown_position"]
    assert doc["errors"][0]["message"].startswith(f"{path}: line 2: move on X before")


# -- reporting limits and boundaries found by mutation testing --------------------------------------------
def test_unknown_moves_are_all_counted_and_five_reported(tmp_path):
    r = check(tmp_path, "G1 X1\nG1 X2\nG1 X3\nG90\nG1 X4\nG1 X5\nG1 X6\nG1 X7\n")  # G90 splits the runs
    assert r.stats["issue_counts"]["unknown_position"] == 7
    assert [i.line for i in r.issues] == [1, 2, 3, 5, 6]


def test_one_cold_extrusion_is_reported_once(tmp_path):
    r = check(tmp_path, "M140 S60\nG28\nM83\nG1 X10 E1\nG90\nG1 X20 E1\nG90\nG1 X30 E1\n")
    assert r.stats["issue_counts"] == {"cold_extrusion": 1}


@pytest.mark.parametrize(("nozzle", "code"), [("S0", "cold_extrusion"), ("S0.5", "temperature_out_of_range"),
                                              ("S-1", "cold_extrusion")])
def test_a_heater_off_is_cold_even_without_a_cold_limit(tmp_path, nozzle, code):
    r = check(tmp_path, f"M104 {nozzle}\nG28\nM83\nG1 X10 Y10 E1\n", printer(min_extrude_temp_c=0), material())
    assert code in r.codes, r.errors


def test_a_bed_minimum_of_one_degree_still_needs_a_bed(tmp_path):
    m = material(bed_temp_min_c=1, bed_temp_c=60)
    assert "printing with the bed not set" in only(check(tmp_path, "M104 S200\nG28\nM83\nG1 X10 E1\n",
                                                         printer(), m), "temperature_out_of_range")


@pytest.mark.parametrize("top", [60, 1])
def test_a_heated_chamber_names_its_limit(tmp_path, top):
    msg = only(check(tmp_path, START + f"M141 S{top + 1}\n", printer(max_chamber_temp_c=top), material()),
               "temperature_out_of_range")
    assert msg.endswith(f"above the printer's limit {top} °C")


def test_unknown_moves_keep_to_five_reports_across_runs(tmp_path):
    r = check(tmp_path, "G1 X1\nG1 X2\nG1 X3\nG90\nG1 X4\nG1 X5\nG1 X6\nG1 X7\nG90\nG1 X8\n")
    assert r.stats["issue_counts"]["unknown_position"] == 8
    assert [i.line for i in r.issues] == [1, 2, 3, 5, 6]


def test_a_single_unknown_move_leaves_the_axis_unknown(tmp_path):
    r = check(tmp_path, "G91\nG1 X10\nG91\nG1 X10\nG91\nG1 X10\n")
    assert r.stats["issue_counts"]["unknown_position"] == 3


def test_an_arc_leaves_an_unknown_z_alone(tmp_path):
    assert check(tmp_path, HOT + "G28 X Y\nG1 X50 Y50\nG2 X60 Y50 I5 J0\n").ok


@pytest.mark.parametrize(("arc", "ok"), [
    ("G1 X3 Y100\nG2 X3 Y100 I-2 J0", False),     # circle reaches X -1
    ("G1 X100 Y3\nG2 X100 Y3 I0 J-2", False),     # Y -1
    ("G1 X100 Y205\nG2 X100 Y205 J3", False),     # Y 211, J alone makes it an arc
    ("G1 X100 Y100\nG2 X110 Y100 I5 J0", True),
    ("G1 X100 Y100\nG3 X100 Y110 I0 J5", True),
    ("G1 X235 Y100\nG2 X236 Y100 R6", True),      # R form: within 2R = 12 of the start, X 247
    ("G20\nG1 X9 Y4\nG2 X9 Y4 I0.6 J0", False),   # inches: centre X 243.84 mm, radius 15.24 mm
    ("G20\nG1 X4 Y7.9\nG2 X4 Y7.9 I0 J0.3", False),  # Y 200.66 + 7.62 + 7.62
    ("G20\nG1 X9 Y4\nG2 X9.1 Y4 R0.5", False),    # 228.6 + 25.4
])
def test_arc_boxes(tmp_path, arc, ok):
    r = check(tmp_path, START + arc + "\n", BOX)
    assert r.ok is ok, r.errors
    if not ok:
        assert r.codes == ["out_of_bounds"]


def test_arc_problems_are_reported_in_file_order(tmp_path):
    body = "G1 X240 Y100\nG2 X240 Y100 I6\nG2 X240 Y100 I7\nG1 X260\nG2 X240 Y100 I8\n"
    r = check(tmp_path, START + body, BOX)
    lines = [i.line for i in r.issues]
    assert lines == sorted(lines) and lines[0] == 8 and r.stats["issue_counts"]["out_of_bounds"] >= 4


def test_relative_moves_in_inches(tmp_path):
    r = check(tmp_path, START + "G20\nG91\nG1 X10\n", BOX)  # 254 mm from X0
    assert "X254.000" in only(r, "out_of_bounds")
    assert check(tmp_path, START + "G20\nG91\nG1 X9.8\n", BOX).ok


def test_the_smallest_extrusion_counts(tmp_path):
    cold = "M140 S60\nG28\n"
    assert check(tmp_path, cold + "M83\nG1 X10 E0.000000001\n").ok  # 1e-9 mm: not an extrusion
    only(check(tmp_path, cold + "M83\nG1 X10 E0.0000001\n"), "cold_extrusion")
    assert check(tmp_path, cold + "M82\nG92 E0\nG1 X10 E0.000000001\n").ok
    assert check(tmp_path, cold + "M82\nG92 E5\nG1 X10 E5\n").ok  # absolute E unchanged: no extrusion


def test_moves_are_counted_across_runs(tmp_path):
    r = check(tmp_path, START + "G1 X1\nG1 X2 E1\nG90\nG1 X3 E1\nG1 X4\nG1 X5 E1\n")
    assert r.stats["moves"] == 5 and r.stats["printing_moves"] == 3


@pytest.mark.parametrize(("part", "x"), [("G1 X240 Y100\nG1 X245 Y100 E1", [240.0, 245.0]),
                                         ("G1 X-0.01 Y100\nG1 X10 Y100 E1", [-0.01, 10.0]),
                                         ("G1 X240 Y100\nG1 X250.01 Y100 E1", [240.0, 250.01])])
def test_part_extents_on_a_printer_with_a_purge_area(tmp_path, part, x):
    # MK3S: bed 250 x 210, travel Y from -4; the part near the bed's right edge and its tolerance
    r = check(tmp_path, START + "G1 Z0.2\nG1 Y-3\nG90\nG1 X60 E9\nG1 X100 Y5 E1\n" + part + "\n", MK3S)
    assert r.ok, r.errors
    assert r.stats["extents_mm"]["x"] == x and r.stats["extents_mm"]["y"] == [100.0, 100.0]


def test_report_dict_is_the_json_contract(tmp_path):
    r = check(tmp_path, START + "G1 X-5\n", BOX)
    doc = r.to_dict()
    assert set(doc) == {"path", "printer", "material", "ok", "codes", "errors", "warnings", "stats"}
    assert doc["path"] == str(tmp_path / "t.gcode") and doc["printer"] == "p" and doc["material"] == "pla"
    assert doc["ok"] is False and doc["codes"] == ["out_of_bounds"]
    assert doc["warnings"] == [{"code": "no_extrusion", "message": "no printing move found", "line": None}]
    assert doc["errors"][0] == {"code": "out_of_bounds", "message": r.issues[0].message, "line": 7}
    assert doc["stats"]["lines"] == 7


@pytest.mark.parametrize("move", ["G0 X1 X2", "G1 X1 X2", "G2 X1 X2 I1", "G3 X1 X2 J1", "G92 X1 X2"])
def test_an_ambiguous_line_makes_its_axes_unknown(tmp_path, move):
    r = check(tmp_path, START + move + "\nG1 X20\n")
    assert r.codes == ["ambiguous_word", "unknown_position"], r.errors


def test_the_ambiguous_message_names_every_repeated_letter(tmp_path):
    msg = check(tmp_path, START + "G1 X1 X2 Y1 Y2\n").issues[0].message
    assert msg == "line 7: G1 gives X, Y more than once; the firmware may use either value"


# -- reading the file ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", range(6, 40))
def test_crlf_and_bare_cr_line_numbers_hold_at_every_chunk_size(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(check_mod, "CHUNK_BYTES", chunk)
    text = START.replace("\n", "\r\n") + "G1 X1\rG1 X2\r\nM117 a\r\rG1 Z-1\r\nG1 X3\r\n"
    r = check(tmp_path, text.encode())
    assert r.stats["lines"] == 12
    assert [i.line for i in r.issues] == [11, 12] and r.codes == ["out_of_bounds"]  # Z stays below 0


def test_a_last_line_without_newline(tmp_path):
    r = check(tmp_path, START + "G1 X10\nG1 Z400")
    assert r.stats["lines"] == 8 and "line 8:" in only(r, "exceeds_max_height")


def test_an_unreadable_file_is_an_input_error(tmp_path, monkeypatch):
    from pathlib import Path

    from hospfab.errors import InputError

    path = tmp_path / "t.gcode"
    path.write_text(START)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputError) as err:
        check_gcode(path, MK4, PLA)
    assert err.value.message == f"{path}: cannot read G-code: Permission denied"


def test_extents_keep_three_decimals(tmp_path):
    r = check(tmp_path, START + "G1 X10.12345 Y20.98765\nG1 X30.55555 Y20.98765 E1\n")
    assert r.stats["extents_mm"]["x"] == [10.123, 30.556] and r.stats["travel_extents_mm"]["y"] == [20.988, 20.988]


def test_issue_counts_add_up(tmp_path):
    r = check(tmp_path, START + "M104 S300\nM104 S301\nM104 S302\n")
    assert r.stats["issue_counts"] == {"temperature_out_of_range": 3, "no_extrusion": 1}


def test_a_comment_that_is_not_utf8_is_read(tmp_path):
    r = check(tmp_path, (START + "; hospfab printer = caf\xe9\nG1 X10 E1\n").encode("latin-1"))
    assert r.ok and r.warnings == ["printer_mismatch: G-code was sliced for printer caf\ufffd, not prusa-mk4"]


def test_out_of_bounds_moves_keep_to_five_reports_across_runs(tmp_path):
    r = check(tmp_path, START + "G1 X300\nG1 X301\nG90\nG1 X302\nG1 X303\nG1 X304\nG90\nG1 X305\n", BOX)
    assert r.stats["issue_counts"]["out_of_bounds"] == 6 and len(r.issues) == 5


def test_five_issues_of_a_kind_are_reported_then_counted(tmp_path):
    r = check(tmp_path, START + "".join(f"M104 S{300 + k}\n" for k in range(6)))
    assert len(r.issues) == 5 and r.stats["issue_counts"]["temperature_out_of_range"] == 6


def test_an_ambiguous_g92_e_is_refused_in_relative_mode(tmp_path):
    assert "ambiguous_word" in check(tmp_path, START + "G92 E1 E2\n").codes


def test_absolute_e_carries_across_runs(tmp_path):
    r = check(tmp_path, START + "M82\nG92 E0\nG1 X10 E1\nG1 X20 E2\nG90\nG1 X30 E2\nG1 X40 E2.5\n")
    assert r.stats["printing_moves"] == 3


@pytest.mark.parametrize(("body", "axis", "extent"), [
    ("G1 X100 Y100\nG1 Y120 E1", "y", [100.0, 120.0]),               # Y alone lays a line
    ("G1 X50 Y50 Z15\nG1 E2\nG1 X100 Y100 Z0.2\nG1 X120 E1", "z", [0.2, 0.2]),  # E alone does not
])
def test_what_counts_as_laying_the_part(tmp_path, body, axis, extent):
    assert check(tmp_path, START + body + "\n", BOX).stats["extents_mm"][axis] == extent


def test_moves_off_the_bed_in_x_or_y_are_not_the_part(tmp_path):
    p = printer(build_volume_mm=(200, 100, 100), travel_x_mm=(-10, 200), travel_y_mm=(-4, 150))
    r = check(tmp_path, START + "G1 X-5 Y50\nG1 X-5 Y60 E1\nG1 X50 Y120\nG1 X60 Y130 E1\nG1 X50 Y50\n"
              "G1 X60 Y50 E1\n", p, material())
    assert r.ok, r.errors
    assert r.stats["extents_mm"] == {"x": [50.0, 60.0], "y": [50.0, 50.0], "z": [0.0, 0.0]}


def test_layers_are_counted_to_the_thousandth(tmp_path):
    r = check(tmp_path, START + "G1 Z0.2001\nG1 X10 E1\nG1 Z0.2004\nG1 X20 E1\nG1 Z0.4\nG1 X30 E1\n")
    assert r.stats["layers"] == 2
