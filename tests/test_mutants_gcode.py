"""G-code checker behaviours that a mutant changed while every other test still passed
(`make mutation MUTANTS='hospfab.gcode*'`): G92 in relative extrusion mode, the extruder position across E
modes."""

from __future__ import annotations

from tests.test_gcode_safety import BOX, START, check, only

# START: G90, M83 (relative E), nozzle 215 °C, bed 60 °C, G28, G92 E0 (lines 1-6). BOX: bed 250 x 210 x 220.


# -- G92 in relative extrusion mode, the extruder position across E modes ----------------------------
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


def test_g92_e_between_relative_moves_counts_only_the_moves_after_it(tmp_path):
    # X10 extrudes 3; G92 E10; X20 extrudes 2: the extruder is at 12. In M82, E11 retracts, E11.5 extrudes.
    body = START + "G1 X10 E3\nG92 E10\nG1 X20 E2\nM82\nG1 X30 E11\nG1 X40 E11.5\n"
    r = check(tmp_path, body, BOX)
    assert r.ok, r.errors
    assert r.stats["printing_moves"] == 3
    assert r.stats["extents_mm"]["x"] == [0.0, 40.0]
