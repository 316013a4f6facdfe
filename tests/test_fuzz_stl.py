"""Fuzzing the STL reader: any bytes give Triangles or a MeshReadError (one line naming the file), never
another exception. Binary STLs with random counts, coordinates (NaN, inf, huge) and sizes; ASCII variants."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from fuzzing import fuzz_settings, run_for_budget
from hypothesis import given
from hypothesis import strategies as st

from hospfab.errors import HospfabError
from hospfab.mesh import read_stl

_float = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True), st.integers(-5, 5).map(float))


def _binary(header: bytes, declared: int, facets: list[tuple[float, ...]], tail: bytes) -> bytes:
    body = b"".join(struct.pack("<12fH", *f, 0) for f in facets)
    return header.ljust(80, b" ")[:80] + struct.pack("<I", declared) + body + tail


binary_stl = st.builds(
    lambda header, facets, declared_delta, tail: _binary(header, max(0, len(facets) + declared_delta), facets,
                                                         tail),
    st.sampled_from([b"binary", b"solid binary", b"", b"\x00" * 80]),
    st.lists(st.tuples(*[_float] * 12), max_size=8),
    st.sampled_from([0, 0, 0, -1, 1, 1 << 31, (1 << 32) - 1 - 8]),
    st.sampled_from([b"", b"", b"\x00", b"x" * 49]),
)
_number = st.one_of(_float.map(repr), st.sampled_from(["1e999", "-1e999", "nan", "inf", "1.5.2", "", "0x10",
                                                       "9" * 400, "-0"]))
_facet = st.builds(
    lambda n, vs, end: f"facet normal {n} 0 0\n outer loop\n" + "".join(f"  vertex {v} 0 {v}\n" for v in vs)
    + end,
    _number, st.lists(_number, min_size=0, max_size=4),
    st.sampled_from([" endloop\nendfacet\n", "endfacet\n", "", " endloop\n"]),
)
ascii_stl = st.builds(
    lambda lead, facets, end: (lead + "solid part\n" + "".join(facets) + end).encode("utf-8", "surrogatepass"),
    st.sampled_from(["", "  ", "\n"]), st.lists(_facet, max_size=5),
    st.sampled_from(["endsolid part\n", "", "endsolid", "\x00"]),
)
stl_bytes = st.one_of(binary_stl, ascii_stl, st.binary(max_size=300))

# Inputs that ever crashed the reader (replayed in every run); see fuzzing.py.
REGRESSIONS: list[bytes] = []


def _read(tmp_path, data: bytes) -> None:
    path = tmp_path / "f.stl"
    path.write_bytes(data)
    try:
        tri = read_stl(path)
    except HospfabError as err:
        assert str(path) in err.message and "\n" not in err.message
        return
    assert tri.vertices.ndim == 3 and tri.vertices.shape[1:] == (3, 3) and len(tri) > 0
    assert np.isfinite(tri.vertices).all()


@pytest.mark.parametrize("data", REGRESSIONS or [pytest.param(b"", marks=pytest.mark.skip("none yet"))])
def test_stl_regressions(tmp_path, data):
    _read(tmp_path, data)


def test_fuzz_stl_reader(tmp_path):
    @fuzz_settings()
    @given(stl_bytes)
    def fuzz(data: bytes) -> None:
        _read(tmp_path, data)

    run_for_budget(fuzz)
