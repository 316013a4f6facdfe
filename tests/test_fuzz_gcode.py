"""Fuzzing the G-code tokenizer: on any bytes the fast path and the reference parser agree and neither
crashes; whole reports of check_gcode are identical either way, and only HospfabError escapes."""

from __future__ import annotations

import pytest
from fuzzing import fuzz_settings, run_for_budget
from hypothesis import given
from hypothesis import strategies as st

import hospfab.gcode.check as check_mod
from hospfab.errors import HospfabError
from hospfab.gcode import check_gcode
from hospfab.gcode.tokenize import tokenize_fast, tokenize_slow
from hospfab.profiles import ProfileStore

from tests.test_gcode import assert_same_tokens
from tests.test_profiles import SHIPPED

STORE = ProfileStore(SHIPPED)
MK3S, PLA = STORE.printer("prusa-mk3s"), STORE.material("pla")

_num = st.one_of(st.integers(-400, 400).map(str), st.floats(-500, 500, allow_nan=False).map(lambda f: f"{f:.3f}"),
                 st.sampled_from(["", ".", "-", "+1", "1e5", "9" * 30, "-.5", "5.", "0x1", "1.2.3"]))
_word = st.tuples(st.sampled_from("XYZEFIJRSPTNGMxyz*;( "), _num).map("".join)
_command = st.sampled_from(["G0", "G1", "G2", "G3", "G28", "G90", "G91", "G92", "G20", "G21", "M82", "M83",
                            "M104", "M109", "M140", "M190", "M141", "M191", "M303", "M211", "M500", "M997",
                            "M302", "M106", "M117", "T0", "g1", "N1 G1", "PRINT_START", ";TYPE:x", ""])
_line = st.builds(lambda c, ws, sep: c + sep + sep.join(ws), _command, st.lists(_word, max_size=5),
                  st.sampled_from([" ", "  ", "\t", ""]))
_end = st.sampled_from(["\n", "\n", "\n", "\r", "\r\n", "\n\r", "\x00\n"])
gcode_bytes = st.one_of(
    st.lists(st.tuples(_line, _end).map("".join), min_size=1, max_size=40).map(lambda ls: "".join(ls).encode()),
    st.binary(min_size=1, max_size=200),
)

# Inputs that ever made the two paths disagree or crash (replayed in every run); see fuzzing.py.
REGRESSIONS: list[bytes] = [
    b"G1 X500 X10\n", b"G1 X10\rG1 Z400\n", b"M303 E0 S400\n", b"G1 X" + b"9" * 400 + b"\n",
]


def _same_tokens(data: bytes) -> None:
    buf = data if data.endswith((b"\n", b"\r")) else data + b"\n"
    fast = tokenize_fast(buf)
    assert fast is not None
    assert_same_tokens(fast, tokenize_slow(buf))


def _same_reports(path, data: bytes) -> None:
    path.write_bytes(data)
    reports = []
    for fast in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not fast:
                mp.setattr(check_mod, "tokenize_fast", lambda buf: None)
            try:
                report = check_gcode(path, MK3S, PLA).to_dict()
            except HospfabError as err:
                report = {"error": err.message}
        if "stats" in report:
            report["stats"].pop("parser")
        reports.append(report)
    assert reports[0] == reports[1]


@pytest.mark.parametrize("data", REGRESSIONS)
def test_gcode_regressions(tmp_path, data):
    _same_tokens(data)
    _same_reports(tmp_path / "r.gcode", data)


def test_fuzz_gcode_tokenizer(tmp_path):
    @fuzz_settings()
    @given(gcode_bytes)
    def fuzz(data: bytes) -> None:
        _same_tokens(data)
        _same_reports(tmp_path / "f.gcode", data)

    run_for_budget(fuzz)
