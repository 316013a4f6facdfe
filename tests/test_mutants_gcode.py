"""G-code checker behaviours that a mutant changed while every other test still passed
(`make mutation MUTANTS='hospfab.gcode*'`): mode switches back (G90, G21), the exact faces of the allowed box,
G92 after an ambiguous line and in relative extrusion mode, the extruder position across E modes, the file
order of arc reports, and the report's statistics (bytes, heights, estimates, parser counts)."""

from __future__ import annotations

import pytest

import hospfab.gcode.check as check_mod
from hospfab.gcode.tokenize import as_lines
from tests.test_gcode_safety import BOX, START, check, material, only

# START: G90, M83 (relative E), nozzle 215 °C, bed 60 °C, G28, G92 E0 (lines 1-6). BOX: bed 250 x 210 x 220.


# -- modes switched back ---------------------------------------------------------------------------------
def test_g90_ends_relative_moves(tmp_path):
    # relative: X0 + 100; absolute again: X200 (relative would be X300, off the bed)
    r = check(tmp_path, START + "G91\nG1 X100 Y10\nG90\nG1 X200 Y10\n", BOX)
    assert r.ok, r.errors
    assert r.stats["travel_extents_mm"]["x"] == [100.0, 200.0]


def test_g21_ends_inches(tmp_path):
    # 1 in = 25.4 mm; after G21, X200 is 200 mm (200 in would be far off the bed)
    r = check(tmp_path, START + "G20\nG1 X1 Y1\nG21\nG1 X200 Y100\n", BOX)
    assert r.ok, r.errors
    assert r.stats["travel_extents_mm"]["x"] == [25.4, 200.0]
    assert r.stats["travel_extents_mm"]["y"] == [25.4, 100.0]


# -- the faces of the allowed box, at exactly the tolerance ------------------------------------------------
@pytest.mark.parametrize("move", ["G1 X-0.01 Y10", "G1 X250.01 Y10", "G1 X10 Y-0.01", "G1 X10 Y210.01",
                                  "G1 X10 Y10 Z-0.01", "G1 X10 Y10 Z220.01"])
def test_a_point_at_the_tolerance_is_inside(tmp_path, move):
    r = check(tmp_path, START + move + "\n", BOX)
    assert r.ok, r.errors


@pytest.mark.parametrize(("move", "code"), [
    ("G1 X-0.011 Y10", "out_of_bounds"), ("G1 X250.011 Y10", "out_of_bounds"),
    ("G1 X10 Y-0.011", "out_of_bounds"), ("G1 X10 Y210.011", "out_of_bounds"),
    ("G1 X10 Y10 Z-0.011", "out_of_bounds"), ("G1 X10 Y10 Z220.011", "exceeds_max_height"),
])
def test_a_point_beyond_the_tolerance_is_refused(tmp_path, move, code):
    assert only(check(tmp_path, START + move + "\n", BOX), code).startswith("line 7: move to ")


# -- G92 ---------------------------------------------------------------------------------------------------
def test_g92_declares_an_axis_made_unknown_by_an_ambiguous_line(tmp_path):
    r = check(tmp_path, START + "G1 X1 X2\nG92 X10\nG1 X20\n", BOX)
    assert r.codes == ["ambiguous_word"], r.errors
    assert r.stats["travel_extents_mm"]["x"] == [20.0, 20.0]


def test_a_bare_g92_in_relative_extrusion_mode_makes_positions_unknown(tmp_path):
    # START is in M83: a bare G92 is "all zero" to some firmwares, so X10 may be physical X110
    msg = only(check(tmp_path, START + "G1 X100 Y100\nG92\nG1 X10\n"), "unknown_position")
    assert msg.startswith("line 9: move on X")
    only(check(tmp_path, "G28\nG91\nG1 X100 Y100\nG92\nG1 X10\n"), "unknown_position")  # G91: E relative too


# -- the extruder position across E modes -----------------------------------------------------------------
def test_g92_e_in_relative_mode_sets_the_position_absolute_moves_start_from(tmp_path):
    # the extruder is declared at 0 in M83; back in M82, E5 extrudes 5 mm with the nozzle cold
    body = "M140 S60\nG28\nM82\nG92 E10\nM83\nG92 E0\nM82\nG1 X10 E5\n"
    assert only(check(tmp_path, body), "cold_extrusion").startswith("line 8: ")


def test_relative_e_moves_advance_the_position_absolute_moves_start_from(tmp_path):
    # E10 (hot), nozzle off, 8 mm retracted in M83: the extruder is at 2, so absolute E5 extrudes cold
    body = "M104 S215\nM140 S60\nG28\nM82\nG92 E0\nG1 X10 E10\nM104 S0\nM83\nG1 E-8\nM82\nG1 X20 E5\n"
    assert only(check(tmp_path, body), "cold_extrusion").startswith("line 11: extrusion with the nozzle at 0")
    assert check(tmp_path, body.replace("E-8", "E-5")).ok  # at 5, E5 moves no filament


@pytest.mark.parametrize(("e", "extrudes"), [(11, False), (13, True)])
def test_g92_e_between_relative_moves_counts_only_the_moves_after_it(tmp_path, e, extrudes):
    # X10 extrudes 3; G92 E10; X20 extrudes 2: the extruder is at 12. In M82, E11 retracts and E13 extrudes.
    r = check(tmp_path, START + f"G1 X10 E3\nG92 E10\nG1 X20 E2\nM82\nG1 X30 E{e}\n", BOX)
    assert r.ok, r.errors
    assert r.stats["printing_moves"] == 2 + extrudes
    assert r.stats["extents_mm"]["x"] == [0.0, 30.0 if extrudes else 20.0]


def test_an_autotune_naming_only_e_is_checked_in_relative_mode(tmp_path):
    # M303 E-2 without S: a chamber autotune at 70 °C, on a printer without a heated chamber
    msg = only(check(tmp_path, START + "M303 E-2\n"), "temperature_out_of_range")
    assert msg == "line 7: chamber autotune (M303) to 70 °C, above the printer's no heated chamber"


# -- reports in file order -----------------------------------------------------------------------------------
def test_arc_boxes_and_moves_are_reported_in_file_order(tmp_path):
    body = ("G1 X100 Y100\n" * 3                 # lines 7-9, inside
            + "G2 X100 Y100 I-101\n"              # line 10: circle around X-1, its box reaches X-102
            + "G1 X260 Y100\n" * 2                # lines 11, 12: off the bed
            + "G2 X100 Y100 I-101\n")             # line 13: from X260 around X159, box Y-1..201, X58..260
    r = check(tmp_path, START + body, BOX)
    assert r.codes == ["out_of_bounds"]
    assert [i.line for i in r.issues] == [10, 11, 12, 13, 13]



def test_two_arcs_in_a_row_are_reported_in_file_order(tmp_path):
    body = ("G1 X240 Y100\n"
            + "G2 X240 Y100 I6\n"                # line 8: circle around X246, its box reaches X252
            + "G2 X240 Y100 I-241\n")            # line 9: circle around X-1, its box reaches X-242
    r = check(tmp_path, START + body, BOX)
    assert r.codes == ["out_of_bounds"]
    assert [i.line for i in r.issues] == [8, 9, 9]


# -- the report's statistics -------------------------------------------------------------------------------
def chunks_read(monkeypatch) -> list[bytes]:
    """Read G-code in 64-byte blocks from now on; the list fills with the chunks the checker gets."""
    read: list[bytes] = []
    chunks = check_mod._chunks

    def counted(path):
        for chunk in chunks(path):
            read.append(chunk)
            yield chunk

    monkeypatch.setattr(check_mod, "CHUNK_BYTES", 64)
    monkeypatch.setattr(check_mod, "_chunks", counted)
    return read


def test_bytes_and_parser_counts_over_several_chunks_and_the_reference_parser(tmp_path, monkeypatch):
    text = START + "".join(f"G1 X{10 + k} Y10 E1 ; move {k}\n" for k in range(8))
    read = chunks_read(monkeypatch)
    fast = check(tmp_path, text).to_dict()
    n = len(read)
    assert n > 3 and b"".join(read) == text.encode()
    assert fast["stats"]["bytes"] == len(text.encode())
    assert fast["stats"]["parser"] == {"fast_chunks": n, "slow_chunks": 0}
    monkeypatch.setattr(check_mod, "tokenize_fast", lambda buf: None)  # the reference parser, chunk by chunk
    slow = check(tmp_path, text).to_dict()
    assert slow["stats"].pop("parser") == {"fast_chunks": 0, "slow_chunks": n}
    fast["stats"].pop("parser")
    assert slow == fast and fast["ok"] and fast["stats"]["printing_moves"] == 8


@pytest.mark.parametrize("end", ["\n", "\r", "\r\n"])
def test_the_file_is_read_in_bounded_chunks_whatever_the_line_end(tmp_path, monkeypatch, end):
    text = (START + "".join(f"G1 X{10 + k} Y10 E1 ; move {k}\n" for k in range(20))).replace("\n", end)
    read = chunks_read(monkeypatch)
    r = check(tmp_path, text)
    # the same lines (a last bare CR comes back as CR LF), no chunk longer than a block and a line (< 64 bytes)
    assert as_lines(b"".join(read)) == as_lines(text.encode()) and max(len(c) for c in read) <= 2 * 64
    assert r.ok and r.stats["lines"] == 26 and r.stats["printing_moves"] == 20

def test_heights_keep_three_decimals_and_are_none_without_moves(tmp_path):
    r = check(tmp_path, START + "G1 Z5.67891\nG1 Z0.12345\nG1 X10 Y10 E1\n")
    assert r.stats["max_z_mm"] == 5.679 and r.stats["max_print_z_mm"] == 0.123
    r = check(tmp_path, START + "G1 Z5.67891\nG1 X10 Y10\n")  # travel only
    assert r.stats["max_z_mm"] == 5.679 and r.stats["max_print_z_mm"] is None
    r = check(tmp_path, START.replace("G28\n", ""))  # no move at all
    assert r.stats["max_z_mm"] is None and r.stats["max_print_z_mm"] is None


def test_the_flavor_comment_is_in_the_stats(tmp_path):
    assert check(tmp_path, START + "; gcode_flavor = marlin2\nG1 X10 E1\n").stats["flavor"] == "marlin2"
    assert check(tmp_path, START + "G1 X10 E1\n").stats["flavor"] is None


@pytest.mark.parametrize(("diameter", "cm3", "grams"), [
    (1.75, 2.41, 2.99),   # pi * 0.875^2 * 1000 mm3 = 2.405 cm3; * 1.24 g/cm3 = 2.98 g from the rounded 2.41
    (2.85, 6.38, 7.91),   # pi * 1.425^2 * 1000 mm3 = 6.379 cm3; 6.38 * 1.24 = 7.911 g
])
def test_volume_and_weight_derived_from_the_length(tmp_path, diameter, cm3, grams):
    m = material(filament_diameter_mm=diameter, density_g_cm3=1.24)
    r = check(tmp_path, START + "G1 X10 E1\n; filament used [mm] = 1000\n", m=m)
    assert r.stats["estimates"] == {"filament_mm": 1000.0, "filament_cm3": cm3, "filament_g": grams}


def test_slicer_figures_win_over_derived_ones(tmp_path):
    body = START + "G1 X10 E1\n; filament used [mm] = 1000\n; filament used [cm3] = 2.5\n"
    body += "; filament used [g] = 3.0\n"
    estimates = check(tmp_path, body).stats["estimates"]
    assert estimates == {"filament_mm": 1000.0, "filament_cm3": 2.5, "filament_g": 3.0}
    body = START + "G1 X10 E1\n; filament used [cm3] = 2.5\n"  # no length: the weight from the volume
    assert check(tmp_path, body).stats["estimates"] == {"filament_cm3": 2.5, "filament_g": 3.1}
    body = START + "G1 X10 E1\n;Filament used: 1.2m\n; filament used [mm] = 1000\n"  # mm wins over metres
    assert check(tmp_path, body).stats["estimates"]["filament_mm"] == 1000.0


def test_the_macro_message_names_the_first_three_in_order(tmp_path):
    body = START + "PRINT_START BED=60\nPARK_HEAD\nCLEAN_NOZZLE\nBED_MESH_CALIBRATE\nG1 X10 E1\n"
    r = check(tmp_path, body)
    assert r.codes == ["flavor_mismatch"]
    assert r.issues[0].message == ("Klipper-style macros (BED_MESH_CALIBRATE, CLEAN_NOZZLE, PARK_HEAD) "
                                   "in G-code for Marlin printer prusa-mk4")
