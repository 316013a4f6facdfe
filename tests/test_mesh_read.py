"""STL reading: binary vs ASCII by the size rule, and every unreadable case refused with one line."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hospfab.errors import InputError
from hospfab.mesh import MeshReadError, read_stl
from meshes import box, torus, write_ascii, write_binary


def test_binary_roundtrip_matches_numpy_stl(tmp_path):
    from stl import mesh as npstl

    tris = torus(500)
    path = write_binary(tmp_path / "t.stl", tris)
    got = read_stl(path)
    assert got.format == "binary" and len(got) == len(tris)
    assert np.array_equal(got.vertices, npstl.Mesh.from_file(str(path)).vectors)


def test_binary_with_solid_header_is_read_as_binary(tmp_path):
    path = write_binary(tmp_path / "s.stl", box(), header=b"solid exported by a CAD tool")
    got = read_stl(path)
    assert got.format == "binary" and len(got) == 12


def test_ascii_is_read_in_float64(tmp_path):
    tris = box() + 1e-13
    got = read_stl(write_ascii(tmp_path / "a.stl", tris))
    assert got.format == "ascii" and got.vertices.dtype == np.float64
    assert np.allclose(got.vertices, tris, atol=1e-15)


def test_ascii_multiple_solids_and_uppercase(tmp_path):
    one = write_ascii(tmp_path / "a.stl", box()).read_text()
    text = (one + one.replace("solid", "SOLID", 1)).upper().replace("E+", "e+").replace("E-", "e-")
    (tmp_path / "b.stl").write_text(text)
    assert len(read_stl(tmp_path / "b.stl")) == 24


def _binary_bytes(n_declared: int, n_written: int) -> bytes:
    rec = np.zeros(n_written, dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    rec["v"] = box()[: n_written] if n_written <= 12 else 0
    return b"\0" * 80 + struct.pack("<I", n_declared) + rec.tobytes()


UNREADABLE = {
    "empty": (b"", "empty file"),
    "tiny": (b"\x01\x02\x03", "too short"),
    "zero_facets_binary": (b"\0" * 80 + struct.pack("<I", 0), "zero facets"),
    "zero_facets_ascii": (b"solid empty\nendsolid empty\n", "zero facets"),
    "truncated_binary": (_binary_bytes(12, 11) + b"\0" * 7, "truncated"),
    "count_too_large": (_binary_bytes(4_000_000_000, 1), "declares 4000000000 facets"),
    "garbage": (bytes(range(256)) * 3, "not an STL"),
    "text_not_stl": (b"hello, this is a README and not a mesh at all\n" * 4, "text"),
    "truncated_ascii": (b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n", "incomplete"),
    "bad_number_ascii": (b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 zero\nvertex 1 0 0\n"
                         b"vertex 0 1 0\nendloop\nendfacet\nendsolid x\n", "not a number"),
    "junk_between_facets": (b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n"
                            b"vertex 0 1 0\nendloop\nendfacet\nGARBAGE HERE\nendsolid x\n", "unexpected text"),
    "solid_then_binary": (b"solid " + _binary_bytes(12, 5)[6:], "binary bytes"),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_unreadable_cases(tmp_path, case):
    data, words = UNREADABLE[case]
    path = tmp_path / f"{case}.stl"
    path.write_bytes(data)
    with pytest.raises(MeshReadError) as info:
        read_stl(path)
    err = info.value
    assert isinstance(err, InputError) and err.exit_code == 2
    assert err.code == "unreadable"
    assert str(path) in err.message and "\n" not in err.message
    assert words in err.message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", ["binary", "ascii"])
def test_non_finite_coordinates(tmp_path, bad, fmt):
    tris = box()
    tris[5, 1, 2] = bad
    path = tmp_path / "nan.stl"
    if fmt == "binary":
        write_binary(path, tris, normals=np.zeros((12, 3)))
    else:
        text = write_ascii(path, box()).read_text().splitlines()
        idx = [i for i, ln in enumerate(text) if "vertex" in ln][16]
        text[idx] = f"      vertex 0 {bad} 0"
        path.write_text("\n".join(text))
    with pytest.raises(MeshReadError) as info:
        read_stl(path)
    assert info.value.code == "invalid_coordinates" and str(path) in info.value.message


@pytest.fixture
def split_small(monkeypatch):
    """Read binary files from 8 facets on with two threads, 3 facets a chunk: every path of a large file."""
    from hospfab.mesh import stlio

    monkeypatch.setattr(stlio, "SPLIT_FACETS", 8)
    monkeypatch.setattr(stlio, "CHUNK_FACETS", 3)


def test_two_threads_read_every_record(tmp_path, split_small):
    from hospfab.mesh import stlio

    tris = torus(301)
    normals = np.random.default_rng(3).normal(size=(len(tris), 3))
    path = write_binary(tmp_path / "t.stl", tris, normals=normals)
    got = read_stl(path)
    records = np.fromfile(path, dtype=stlio.FACET_DTYPE, offset=stlio.BINARY_OVERHEAD)
    assert len(got) == len(records) > 8
    assert np.array_equal(got.vertices, records["vertices"])
    assert np.array_equal(got.normals, records["normal"])
    assert np.array_equal(got.normals, normals.astype(np.float32))


@pytest.mark.parametrize("bad_facets,named", [([250], 250), ([40, 250], 40), ([3], 3), ([299], 299)])
def test_two_threads_name_the_first_non_finite_facet(tmp_path, split_small, bad_facets, named):
    tris = torus(320)[:300]
    for facet in bad_facets:
        tris[facet, 2, 1] = np.nan
    path = write_binary(tmp_path / "nan.stl", tris, normals=np.zeros((300, 3)))
    with pytest.raises(MeshReadError) as info:
        read_stl(path)
    assert info.value.code == "invalid_coordinates" and f"facet {named} has" in info.value.message


def test_a_file_cut_short_while_being_read_is_refused(tmp_path, split_small, monkeypatch):
    """The size rule passed, then the file lost its end (another program truncating it): each half notices."""
    from hospfab.mesh import stlio

    path = write_binary(tmp_path / "t.stl", torus(320)[:300])
    real = stlio._read_facets

    def cut_then_read(path_, read, start, stop, count, vertices, normals):
        if start > 0:  # the second half, before it reads: the cut lands in what it has left to read
            with open(path_, "r+b") as out:
                out.truncate(stlio.BINARY_OVERHEAD + 200 * stlio.FACET_BYTES + 7)
        return real(path_, read, start, stop, count, vertices, normals)

    monkeypatch.setattr(stlio, "_read_facets", cut_then_read)
    with pytest.raises(MeshReadError, match=r"truncated: file ended after 200 of 300 facets"):
        read_stl(path)


def test_any_failure_of_the_second_thread_reaches_the_caller(tmp_path, split_small, monkeypatch):
    """Not only read errors: a MemoryError there must not leave half the facets unread and unsaid."""
    from hospfab.mesh import stlio

    path = write_binary(tmp_path / "t.stl", torus(320)[:300])
    real = stlio._read_facets

    def fail_second_half(path_, read, start, stop, count, vertices, normals):
        if start > 0:
            raise MemoryError("no room for the buffer")
        return real(path_, read, start, stop, count, vertices, normals)

    monkeypatch.setattr(stlio, "_read_facets", fail_second_half)
    with pytest.raises(MemoryError, match="no room"):
        read_stl(path)


def test_both_threads_read_the_file_that_was_opened(tmp_path, split_small, monkeypatch):
    """A file replaced by name while it is read (a slicer saving, a sync client): both halves still come
    from the file that was opened, never half from each."""
    import os
    import threading

    from hospfab.mesh import stlio

    old, new = torus(320)[:300], torus(320)[:300] + 100.0
    path = write_binary(tmp_path / "t.stl", old)
    write_binary(tmp_path / "new.stl", new)

    class ReplacedFirst(threading.Thread):
        def start(self):  # the replacement lands between the open and the second thread's reads
            os.replace(tmp_path / "new.stl", path)
            super().start()

    monkeypatch.setattr(stlio.threading, "Thread", ReplacedFirst)
    got = read_stl(path)
    assert not (tmp_path / "new.stl").exists()  # the replacement did happen
    assert np.array_equal(got.vertices, old.astype(np.float32))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MeshReadError, match="cannot read"):
        read_stl(tmp_path / "nope.stl")
    with pytest.raises(MeshReadError):
        read_stl(tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), solid=st.booleans())
def test_fuzz_never_crashes(tmp_path, data, solid):
    path = tmp_path / "fuzz.stl"
    path.write_bytes((b"solid " if solid else b"") + data)
    try:
        tri = read_stl(path)
    except MeshReadError as err:
        assert "\n" not in err.message
    else:
        assert np.isfinite(tri.vertices).all() and len(tri) > 0
