"""The vectorised G-code path against the reference parser: comment-heavy, M-code-heavy and arc-heavy files,
G91/G92 sequences across chunk boundaries, CRLF files. Whole reports must be identical."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hospfab.gcode.check as check_mod
from hospfab.gcode import check_gcode
from hospfab.gcode.tokenize import tokenize_fast, tokenize_slow
from hospfab.profiles import ProfileStore

from tests.test_gcode import assert_same_tokens
from tests.test_profiles import SHIPPED

STORE = ProfileStore(SHIPPED)
MK4, PLA = STORE.printer("prusa-mk4"), STORE.material("pla")

_num = st.one_of(
    st.integers(-30, 300).map(str),
    st.decimals(-30, 300, places=3, allow_nan=False, allow_infinity=False).map(lambda d: f"{d}"),
    st.integers(0, 99999).map(lambda i: f".{i:05d}"),
    st.sampled_from(["5.", "-.5", "007", "123456789", "1.123456789", "-", ".", "1.2.3", "--1", "1-2", "+5"]),
)
_word = st.tuples(st.sampled_from("XYZEFIJSR"), _num).map(lambda t: t[0] + t[1])
_move = st.builds(
    lambda g, words, sep, tail: f"{g}{sep}" + sep.join(words) + tail,
    st.sampled_from(["G0", "G1", "G1", "G2", "G3", "G01"]),
    st.lists(_word, min_size=0, max_size=5),
    st.sampled_from([" ", " ", " ", "  ", "\t"]),
    st.sampled_from(["", "", " ", " ; comment X9", ";c", "*57", " (X999)"]),
)
_other = st.sampled_from([
    "; comment X5 Y5", ";TYPE:Perimeter", "", "   ", "G92 E0", "G92 X0 Y0", "G92", "M104 S200", "M109 R215",
    "M140 S60", "M190 S300", "G91", "G90", "M82", "M83", "G20", "G21", "G28", "G28 X", "M106 S255", "M107",
    "M73 P10 R20", "M117 Printing x1 y2", "T0", "G4 S0", "N10 G1 X20 Y20 E1*57", "g1 x30 y30 e1", "  G1 X40",
    "(paren X9)", "PRINT_START BED=60", "G1X5Y5", "G 1 X5", "M104;c", "G2 X10 Y10 R5", "G1.5 X3",
    "G1 X5 F1X3", "G1 F1*5 Y9", "G1 X5 y3", "M10000 S1", "G1 X1 X2",
])
_line = st.one_of(_move, _move, _move, _other)


@settings(max_examples=300, deadline=None)
@given(st.lists(_line, min_size=1, max_size=60))
def test_fast_tokenizer_matches_reference_on_rough_input(lines):
    buf = ("\n".join(lines) + "\n").encode()
    assert_same_tokens(tokenize_fast(buf), tokenize_slow(buf))


def _reports(tmp_path, text: str, chunk: int, monkeypatch):
    path = tmp_path / "f.gcode"
    path.write_bytes(text.encode())
    monkeypatch.setattr(check_mod, "CHUNK_BYTES", chunk)
    fast = check_gcode(path, MK4, PLA).to_dict()
    monkeypatch.setattr(check_mod, "tokenize_fast", lambda buf: None)
    slow = check_gcode(path, MK4, PLA).to_dict()
    monkeypatch.undo()
    for r in (fast, slow):
        r["stats"].pop("parser")
    return fast, slow


_stateful = st.sampled_from([
    "G91", "G90", "G92 X0", "G92 Y5 E0", "G92 E0", "M82", "M83", "G20", "G21", "G28", "G28 Z",
    "M104 S215", "M104 S250", "M140 S60", "G1 X60 E1", "G1 X-30 Y20", "G1 Z0.2", "G1 Z230",
    "G2 X10 Y10 I5 J0 E1", "G3 X20 Y20 J-8", "; c", "M106 S100", "G1 X5 E1 ; wipe",
])


@settings(max_examples=60, deadline=None)
@given(st.lists(_stateful, min_size=1, max_size=80), st.sampled_from([32, 64, 200, 1 << 18]))
def test_whole_reports_identical_with_modes_across_chunks(tmp_path_factory, monkeypatch_session, lines,
                                                         chunk):
    """G91/G92/M82/M83/G20 sequences, arcs and temperatures: the fast path gives the reference report,
    whatever the chunk size (chunks cut between mode changes and the moves they govern)."""
    tmp = tmp_path_factory.mktemp("modes")
    fast, slow = _reports(tmp, "G28\nG1 X10 Y10\n" + "\n".join(lines) + "\n", chunk, monkeypatch_session)
    assert fast == slow


@pytest.fixture(scope="module")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _body(kind: str, n: int) -> str:
    out = ["M83", "M104 S215", "M140 S60", "G28", "G1 Z0.2 F720"]
    for k in range(n):
        x, y = 20 + (k * 7) % 200, 20 + (k * 13) % 170
        if kind == "comments":
            out += [f";TYPE:Perimeter {k}", f"G1 X{x}.5 Y{y}.25 E.0{k % 10} ; move {k}",
                    "; (another) comment", f"M73 P{k % 100} R9", "M117 Layer x", f"G1 X{x} Y{y}"]
        elif kind == "arcs":
            out += [f"G1 X{x} Y{y}", f"G2 X{x + 4} Y{y} I2 J0 E0.3", f"G3 X{x} Y{y} I-2 J0 E.3 F1800"]
        elif kind == "relative":
            out += ["G91", "G1 Z0.4", "G90", f"G1 X{x} Y{y}", "G92 E0", f"G1 X{x + 1} Y{y} E1", "G91",
                    "G1 Z-0.4", "G90"]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("kind", ["comments", "arcs", "relative"])
@pytest.mark.parametrize("chunk", [97, 4096])
def test_heavy_files_match_reference(tmp_path, monkeypatch, kind, chunk):
    fast, slow = _reports(tmp_path, _body(kind, 300), chunk, monkeypatch)
    assert fast == slow
    assert fast["ok"], fast["errors"]
    assert fast["stats"]["moves"] > 300


def test_arc_heavy_file_flags_an_arc_leaving_the_bed(tmp_path):
    path = tmp_path / "a.gcode"
    path.write_text(_body("arcs", 300) + "G1 X240 Y100\nG2 X240 Y100 I6 J0 E3\n")
    r = check_gcode(path, MK4, PLA)
    assert r.codes == ["out_of_bounds"] and r.stats["issue_counts"]["out_of_bounds"] == 1
    assert f"line {len(path.read_text().splitlines())}:" in r.errors[0]
    assert r.stats["travel_extents_mm"]["x"][1] == 252.0


def test_relative_moves_across_a_chunk_boundary(tmp_path, monkeypatch):
    # 5 relative steps of 60 mm from X10 reach X310, with chunks of a few lines each.
    text = "M83\nM104 S215\nM140 S60\nG28\nG1 Z0.2\nG1 X10 Y10\nG91\n" + "G1 X60 E1\n" * 5 + "G90\nG92 X0\nG1 X1\n"
    fast, slow = _reports(tmp_path, text, 24, monkeypatch)
    assert fast == slow
    assert fast["codes"] == ["out_of_bounds"] and "X310.000" in fast["errors"][0]["message"]


def test_crlf_file_reads_like_lf(tmp_path):
    body = _body("comments", 50)
    (tmp_path / "lf.gcode").write_text(body)
    (tmp_path / "crlf.gcode").write_bytes(body.replace("\n", "\r\n").encode())
    lf, crlf = (check_gcode(tmp_path / f, MK4, PLA).stats for f in ("lf.gcode", "crlf.gcode"))
    assert crlf["moves"] == lf["moves"] and crlf["extents_mm"] == lf["extents_mm"]
    assert crlf["lines"] == lf["lines"]
