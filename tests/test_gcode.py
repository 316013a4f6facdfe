"""G-code parser and checks on hand-written G-code: bounds, height, temperatures, flavor, modes, comments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospfab.errors import InputError
from hospfab.gcode import check_gcode, parse_duration
from hospfab.gcode.tokenize import tokenize_fast, tokenize_slow
from hospfab.profiles import ProfileStore

from tests.test_profiles import SHIPPED

STORE = ProfileStore(SHIPPED)
MK4, PLA = STORE.printer("prusa-mk4"), STORE.material("pla")  # bed 250 x 210 x 220, PLA 190-230 / 40-70 °C

START = "G90\nM83\nM104 S215\nM140 S60\nG28\nG92 E0\n"


def run(tmp_path, body: str, printer=MK4, material=PLA, name="t.gcode"):
    path = tmp_path / name
    path.write_text(START + body)
    return check_gcode(path, printer, material)


def test_clean_file_passes_with_stats(tmp_path):
    body = "G1 Z0.2 F720\nG1 X10 Y10\nG1 X100 Y10 E5\nG1 X100 Y100 E5\n;TYPE:Perimeter\nG1 Z0.4\nG1 X10 Y100 E5\n"
    body += "; filament used [mm] = 15.0\n; estimated printing time (normal mode) = 1h 2m 3s\n"
    r = run(tmp_path, body)
    assert r.ok, r.errors
    s = r.stats
    assert s["extents_mm"] == {"x": [10.0, 100.0], "y": [10.0, 100.0], "z": [0.2, 0.4]}
    assert s["layers"] == 2 and s["max_z_mm"] == 0.4
    assert s["nozzle_temps_c"] == [215.0] and s["bed_temps_c"] == [60.0]
    assert s["estimates"]["print_time_s"] == 3723 and s["estimates"]["filament_mm"] == 15.0
    assert s["estimates"]["filament_g"] > 0  # derived from diameter and density


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("G1 Z0.2\nG1 X260 Y10 E1\n", "out_of_bounds", "line 8: move to X260.000 Y10.000 Z0.200 is outside"),
        ("G1 Z0.2\nG1 X10 Y-5\n", "out_of_bounds", "line 8: move to X10.000 Y-5.000"),  # travel counts too
        ("G1 Z0.2\nG1 X10 Y10 E1\nG1 Z230\n", "exceeds_max_height", "line 9: move to X10.000 Y10.000 Z230.000"),
        ("M104 S300\nG1 Z0.2\nG1 X10 Y10 E1\n", "temperature_out_of_range",
         "line 7: nozzle set to 300 °C, above the printer's limit 290 °C"),
        ("M104 S240\nG1 Z0.2\nG1 X10 Y10 E1\n", "temperature_out_of_range",
         "line 7: nozzle set to 240 °C, above the material's maximum 230 °C"),
        ("M104 S180\nG1 Z0.2\nG1 X10 Y10 E1\n", "temperature_out_of_range",
         "line 9: extruding with the nozzle at 180 °C, below the material's minimum 190 °C"),
        ("M140 S110\nG1 Z0.2\nG1 X10 Y10 E1\n", "temperature_out_of_range",
         "line 7: bed set to 110 °C, above the material's maximum 70 °C"),
        ("M140 S35\nG1 Z0.2\nG1 X10 Y10 E1\n", "temperature_out_of_range",
         "line 9: printing with the bed at 35 °C, below the material's minimum bed temperature 40 °C"),
        ("G1 Z0.2\nG1 X10 Y10 E1\n; gcode_flavor = reprapfirmware\n", "flavor_mismatch",
         "G-code was generated for the 'reprapfirmware' flavor, printer prusa-mk4 speaks 'marlin2'"),
        ("PRINT_START BED=60\nG1 Z0.2\nG1 X10 Y10 E1\n", "flavor_mismatch",
         "Klipper-style macros (PRINT_START) in G-code for Marlin printer prusa-mk4"),
    ],
)
def test_each_failure_code(tmp_path, body, code, message):
    r = run(tmp_path, body, printer=STORE.printer("prusa-mk4").model_copy(update={"travel_y_mm": None}))
    assert r.codes == [code], r.errors
    assert r.issues[0].message.startswith(message), r.issues[0].message
    assert r.errors == [f"{code}: {i.message}" for i in r.issues]


def test_preheat_below_window_is_fine_if_not_extruding(tmp_path):
    r = run(tmp_path, "M104 S170\nG29\nM109 S215\nG1 Z0.2\nG1 X10 Y10 E1\n")
    assert r.ok, r.errors
    assert r.stats["nozzle_temps_c"] == [170.0, 215.0]


def test_relative_moves_and_g92_do_not_fool_it(tmp_path):
    # 5 relative steps of 60 mm from X10 reach X310: off the bed though no number exceeds 250.
    r = run(tmp_path, "G1 Z0.2\nG1 X10 Y10\nG91\n" + "G1 X60 E1\n" * 5 + "G90\n")
    assert "out_of_bounds" in r.codes
    assert "X310.000" in r.errors[0]
    # G92 X0 at physical X200, then X100 means physical X300.
    r = run(tmp_path, "G1 Z0.2\nG1 X200 Y10\nG92 X0\nG1 X100 E1\n")
    assert "out_of_bounds" in r.codes
    # G92 the other way keeps a big logical number on the bed.
    r = run(tmp_path, "G1 Z0.2\nG1 X10 Y10\nG92 X500\nG1 X600 E1\n")
    assert r.ok, r.errors
    assert r.stats["extents_mm"]["x"] == [10.0, 110.0]


def test_absolute_extrusion_and_retractions(tmp_path):
    body = "M82\nG92 E0\nG1 Z0.2\nG1 X10 Y10 E1\nG1 X20 Y10 E0.5\nG1 X200 Y200 E0.5\nG1 X20 Y10\nG1 X30 Y10 E1.5\n"
    r = run(tmp_path, body)
    assert r.ok
    # X200 Y200 was a travel (E unchanged), so it is not in the printing extents.
    assert r.stats["extents_mm"]["x"] == [0.0, 30.0]  # from the home position to X30
    assert r.stats["travel_extents_mm"]["x"][1] == 200.0


def test_comments_of_every_style_are_ignored(tmp_path):
    body = (
        "; G1 X999 Y999 E1\n(G1 X999 E1)\nG1 Z0.2 ; G1 X999\nG1 X10 (X999) Y10 E1\n"
        "N10 G1 X20 Y20 E1*57\ng1 x30 y30 e1\n  G1 X40 Y40 E1 ; indented\n"
    )
    r = run(tmp_path, body)
    assert r.ok, r.errors
    assert r.stats["extents_mm"]["x"][1] == 40.0


def test_arc_bounding_circle_is_checked(tmp_path):
    r = run(tmp_path, "G1 Z0.2\nG1 X240 Y100\nG2 X240 Y100 I6 J0 E3\n")  # full circle reaches X252
    assert "out_of_bounds" in r.codes


def test_inches_are_converted(tmp_path):
    r = run(tmp_path, "G20\nG1 Z0.01\nG1 X11 Y1 E0.1\n")  # 11 in = 279.4 mm
    assert "out_of_bounds" in r.codes


@pytest.mark.parametrize("content", [b"garbage\n", bytes(range(256)) * 10, b"solid part\n  facet normal 0 0 1\n"],
                         ids=["text", "binary", "ascii-stl"])
def test_files_that_are_not_gcode_are_refused(tmp_path, content):
    path = tmp_path / "wrong.gcode"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not G-code"):
        check_gcode(path, MK4, PLA)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "e.gcode").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        check_gcode(tmp_path / "e.gcode", MK4, PLA)
    with pytest.raises(InputError, match="no such"):
        check_gcode(tmp_path / "missing.gcode", MK4, PLA)


def test_parse_duration():
    assert parse_duration("1d 9h 13m 17s") == 1 * 86400 + 9 * 3600 + 13 * 60 + 17
    assert parse_duration("45s") == 45


# -- the vectorised tokenizer agrees with the reference parser -------------------------------------------
_num = st.one_of(
    st.integers(-300, 300).map(str),
    st.decimals(-300, 300, places=3, allow_nan=False, allow_infinity=False).map(lambda d: f"{d}"),
    st.integers(0, 999).map(lambda i: f".{i:03d}"),
)
_move = st.builds(
    lambda g, words: f"G{g} " + " ".join(words) if words else f"G{g}",
    st.sampled_from([0, 1]),
    st.lists(st.tuples(st.sampled_from("XYZEF"), _num).map(lambda t: t[0] + t[1]), min_size=0, max_size=4),
)
_other = st.sampled_from(["; comment X5", "", "G92 E0", "M104 S200", "G91", "G90", "M83", "G1 X5 ; c",
                          "M106 S255", "G28", "(paren X9)", "G1  X5", "G1 X1 Y2 "])
_line = st.one_of(_move, _move, _move, _other)


@settings(max_examples=200, deadline=None)
@given(st.lists(_line, min_size=1, max_size=40))
def test_fast_tokenizer_matches_reference(lines):
    buf = ("\n".join(lines) + "\n").encode()
    fast, slow = tokenize_fast(buf), tokenize_slow(buf)
    assert_same_tokens(fast, slow)


def assert_same_tokens(fast, slow):
    """Same moves (every column, bit for bit up to float rounding), same lines, same special commands."""
    np.testing.assert_array_equal(fast.move_lines, slow.move_lines)
    for axis in "xyzeijr":
        np.testing.assert_allclose(getattr(fast, axis), getattr(slow, axis), atol=1e-9, rtol=0)
    assert fast.lines == slow.lines
    state = {"G90", "G91", "M82", "M83", "G20", "G21", "G28", "G92", "M104", "M109", "M140", "M190"}
    kept = [(s.line, s.moves_before, s.command, s.words) for s in slow.specials if s.command in state]
    assert [(s.line, s.moves_before, s.command, s.words) for s in fast.specials if s.command in state] == kept
    assert {s.command for s in fast.specials} | fast.commands == {s.command for s in slow.specials}


@pytest.mark.parametrize(("comment", "key", "value"), [
    (";TIME:123.5", "print_time_s", 123.5),
    (";TIME:6000", "print_time_s", 6000.0),
    ("; estimated printing time (normal mode) = 2m 3s", "print_time_s", 123.0),
    ("; filament used [mm] = 1.5, 2.5", "filament_mm", 4.0),
    (";Filament used: 1.5m", "filament_mm", 1500.0),
    ("; filament used [g] = 3.25", "filament_g", 3.25),
])
def test_slicer_estimates_are_read(tmp_path, comment, key, value):
    r = run(tmp_path, "G1 Z0.2\nG1 X10 Y10 E1\n" + comment + "\n")
    assert r.stats["estimates"][key] == pytest.approx(value)


def test_printer_named_by_the_slicer_is_compared(tmp_path):
    r = run(tmp_path, "; hospfab printer = prusa-mini\nG1 Z0.2\nG1 X10 Y10 E1\n")
    assert r.ok and r.warnings == ["printer_mismatch: G-code was sliced for printer prusa-mini, not prusa-mk4"]
    assert run(tmp_path, "; hospfab printer = prusa-mk4\nG1 Z0.2\nG1 X10 Y10 E1\n").warnings == []


def test_parse_duration_without_units():
    assert parse_duration("soon") is None and parse_duration("") is None
    assert parse_duration("0s") == 0.0
