"""Robust STL reading and writing.

Binary or ASCII is decided by the size rule first: a binary STL is exactly ``84 + 50 x N`` bytes, where N is
the facet count stored at byte 80. Real binary files often start their 80-byte header with ``solid``, so the
first word proves nothing. A file that fails the size rule must be ASCII STL (``solid ... endsolid``) or it is
refused. Nothing is allocated beyond what the file can hold: the facet count is checked against the size
before any array is made, and binary facets are read in chunks straight into their final arrays.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hospfab import allocator
from hospfab.errors import InputError

HEADER_BYTES = 80
BINARY_OVERHEAD = 84
FACET_BYTES = 50
CHUNK_FACETS = 1 << 16  # facets read at a time (3.3 MB)
SPLIT_FACETS = 1 << 18  # from this many facets on, two threads read a binary STL
MAX_ASCII_BYTES = 1 << 31

FACET_DTYPE = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")])
assert FACET_DTYPE.itemsize == FACET_BYTES


class MeshReadError(InputError):
    """An STL file that cannot be read (code ``unreadable``) or holds NaN/infinite coordinates
    (code ``invalid_coordinates``). Its message is one line and names the file."""

    code = "unreadable"


@dataclass
class Triangles:
    """Raw facets as stored: ``vertices`` (n, 3, 3) float32 (binary) or float64 (ASCII), ``normals`` (n, 3)."""

    vertices: np.ndarray
    normals: np.ndarray
    format: str  # "binary" or "ascii"
    header: str = ""

    def __len__(self) -> int:
        return int(self.vertices.shape[0])


def _fail(path: Path, why: str, code: str = "unreadable") -> MeshReadError:
    return MeshReadError(f"{path}: {why}", code=code, details={"path": str(path)})


def read_stl(path: str | os.PathLike[str]) -> Triangles:
    """Read a binary or ASCII STL file; raise :class:`MeshReadError` when it is not a usable STL."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise _fail(path, "not a regular file")
        with path.open("rb") as fh:
            head = fh.read(BINARY_OVERHEAD)
            if size == 0:
                raise _fail(path, "empty file (0 bytes)")
            if size >= BINARY_OVERHEAD:
                declared = int(np.frombuffer(head, "<u4", count=1, offset=HEADER_BYTES)[0])
                if size == BINARY_OVERHEAD + FACET_BYTES * declared:
                    if declared == 0:
                        raise _fail(path, "binary STL with zero facets")
                    return _read_binary(path, fh, head, declared)
            else:
                declared = None
            if head.lstrip()[:5].lower() == b"solid" and size <= MAX_ASCII_BYTES:
                fh.seek(0)
                return _read_ascii(path, fh.read())
    except OSError as err:
        raise _fail(path, f"cannot read: {err.strerror or err}") from None
    if declared is None:
        raise _fail(path, f"too short for an STL file ({size} bytes; a binary STL has at least 84)")
    expected = BINARY_OVERHEAD + FACET_BYTES * declared
    if _looks_like_text(head):
        raise _fail(path, "not an STL file: text that does not start with 'solid'")
    if size < expected:
        holds = (size - BINARY_OVERHEAD) // FACET_BYTES
        raise _fail(path, f"truncated or not an STL: header declares {declared} facets "
                          f"({expected} bytes) but the file holds {size} bytes (room for {holds})")
    raise _fail(path, f"not an STL file: {size} bytes matches neither a binary STL of {declared} facets "
                      f"({expected} bytes) nor ASCII 'solid ... endsolid' text")


def _looks_like_text(head: bytes) -> bool:
    printable = sum(32 <= c < 127 or c in (9, 10, 13) for c in head)
    return printable == len(head)


def _read_binary(path: Path, fh: io.BufferedReader, head: bytes, count: int) -> Triangles:
    """The facets of a binary STL of ``count`` facets; from ``SPLIT_FACETS`` on, where the platform reads
    at an offset (``os.preadv``: Linux, BSDs, recent macOS), a second thread reads the second half of the
    same open file (each copy out of the 50-byte records runs without the GIL, as do the reads)."""
    vertices = np.empty((count, 3, 3), dtype=np.float32)
    normals = np.empty((count, 3), dtype=np.float32)
    split = count >= SPLIT_FACETS and hasattr(os, "preadv")
    half = count // 2 if split else count
    failures: list[BaseException] = []

    def second_half() -> None:
        try:
            _read_facets(path, _reader_at(fh), half, count, count, vertices, normals)
        except BaseException as err:  # any failure (even MemoryError) is raised in the calling thread
            failures.append(err)

    helper = threading.Thread(target=second_half, name="hospfab-stl-read") if split else None
    if helper is not None:
        allocator.one_heap()  # else glibc gives the thread a heap, which the checks' threads reuse later
        helper.start()
    try:
        _read_facets(path, _reader_at(fh) if split else _reader(fh), 0, half, count, vertices, normals)
    finally:
        if helper is not None:
            helper.join()
    if failures:  # the first half's own failure, if any, came first
        raise failures[0]
    header = head[:HEADER_BYTES].split(b"\0", 1)[0].decode("latin-1", "replace").strip()
    return Triangles(vertices, normals, "binary", header)


ReadAt = Callable[[memoryview, int], int]


def _reader_at(fh: io.BufferedReader) -> ReadAt:
    """Fill a buffer from a byte offset of ``fh``'s file, leaving its position alone (threads share it)."""
    fd = fh.fileno()

    def read(view: memoryview, offset: int) -> int:
        done = 0
        while done < len(view):
            got = os.preadv(fd, [view[done:]], offset + done)
            if got == 0:
                break
            done += got
        return done

    return read


def _reader(fh: io.BufferedReader) -> ReadAt:
    """Fill a buffer from a byte offset of ``fh``, by seeking (one thread). A buffered reader fills the whole
    buffer unless the file ends first."""

    def read(view: memoryview, offset: int) -> int:
        fh.seek(offset)
        return fh.readinto(view)

    return read


def _read_facets(path: Path, read: ReadAt, start: int, stop: int, count: int, vertices: np.ndarray,
                 normals: np.ndarray) -> None:
    """Facets ``start`` to ``stop`` (of ``count``) into ``vertices`` and ``normals``, chunk by chunk through
    one buffer; refuses a file that ends early and NaN or infinite coordinates."""
    step = max(1, min(CHUNK_FACETS, stop - start))
    buffer = bytearray(step * FACET_BYTES)
    view = memoryview(buffer)
    for first in range(start, stop, step):
        k = min(step, stop - first)
        got = read(view[:k * FACET_BYTES], BINARY_OVERHEAD + first * FACET_BYTES)
        if got < k * FACET_BYTES:
            raise _fail(path, f"truncated: file ended after {first + got // FACET_BYTES} of {count} facets")
        chunk = np.frombuffer(buffer, FACET_DTYPE, count=k)
        vertices[first:first + k] = chunk["vertices"]
        normals[first:first + k] = chunk["normal"]
        _require_finite(path, vertices[first:first + k], first)


_NUM = rb"(\S+)"
_FACET_RE = re.compile(
    rb"facet\s+normal\s+" + rb"\s+".join([_NUM] * 3) + rb"\s+outer\s+loop\s+"
    + rb"\s+".join([rb"vertex\s+" + rb"\s+".join([_NUM] * 3)] * 3)
    + rb"\s+endloop\s+endfacet",
    re.IGNORECASE,
)
_FRAME_RE = re.compile(rb"\A(?:\s*(?:solid|endsolid)[^\S\n]*[^\n]*(?:\n|\Z))*\s*\Z", re.IGNORECASE)


def _read_ascii(path: Path, data: bytes) -> Triangles:
    if b"\0" in data:
        raise _fail(path, "not an STL file: starts with 'solid' but holds binary bytes and fails the "
                          "binary size rule (truncated or corrupt)")
    facets = _FACET_RE.findall(data)
    declared = len(re.findall(rb"\bfacet\s+normal\b", data, re.IGNORECASE))
    if declared == 0:
        raise _fail(path, "ASCII STL with zero facets")
    if len(facets) != declared:
        raise _fail(path, f"malformed ASCII STL: {declared - len(facets)} of {declared} facets are "
                          "incomplete (truncated file or missing vertex/endloop/endfacet)")
    rest = _FACET_RE.sub(b"", data)
    if not _FRAME_RE.match(rest):
        bad = next((ln for ln in rest.splitlines() if ln.strip() and not
                    re.match(rb"\s*(solid|endsolid)\b", ln, re.IGNORECASE)), b"?")
        raise _fail(path, f"malformed ASCII STL: unexpected text {bad.strip()[:40]!r}")
    try:
        numbers = np.array(facets, dtype=np.bytes_).astype(np.float64)
    except ValueError:
        raise _fail(path, "malformed ASCII STL: a coordinate is not a number") from None
    normals = np.ascontiguousarray(numbers[:, :3])
    vertices = np.ascontiguousarray(numbers[:, 3:]).reshape(-1, 3, 3)
    _require_finite(path, vertices)
    first = data.lstrip().split(b"\n", 1)[0]
    return Triangles(vertices, normals, "ascii", first[5:].decode("latin-1", "replace").strip())


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _require_finite(path: Path, vertices: np.ndarray, first_facet: int = 0) -> None:
    """Refuse NaN or infinite coordinates, and (ASCII, read as float64) coordinates that binary STL's
    float32 cannot hold: every later step (checks in float32 ray queries, `repair`'s binary output) would
    turn them into infinities. ``vertices`` are the facets from number ``first_facet`` on."""
    flat = vertices.reshape(-1)
    step = 1 << 22
    for start in range(0, flat.size, step):
        part = flat[start:start + step]
        if not np.isfinite(part).all():
            bad = start + int(np.flatnonzero(~np.isfinite(part))[0])
            raise _fail(path, f"facet {first_facet + bad // 9} has a NaN or infinite coordinate",
                        code="invalid_coordinates")
        if part.dtype != np.float32:
            huge = np.abs(part) > FLOAT32_MAX
            if huge.any():
                bad = start + int(np.flatnonzero(huge)[0])
                raise _fail(path, f"facet {first_facet + bad // 9} has a coordinate ({flat[bad]:.3g}) beyond "
                                  f"what binary STL can hold (float32, +-{FLOAT32_MAX:.3g})",
                            code="invalid_coordinates")


def write_binary_stl(path: str | os.PathLike[str], vertices: np.ndarray, normals: np.ndarray | None = None,
                     header: str = "hospfab") -> None:
    """Write facets (n, 3, 3) as binary STL, atomically (temp file in the same folder, fsync, replace).
    Normals are recomputed from the vertex order when not given."""
    path = Path(path)
    vertices = np.asarray(vertices, dtype=np.float64)
    if not (np.isfinite(vertices).all() and np.abs(vertices).max(initial=0) <= FLOAT32_MAX):
        from hospfab.errors import InputError

        raise InputError(f"{path}: not written: coordinates beyond what binary STL (float32) can hold",
                         code="invalid_coordinates")
    if normals is None:
        with np.errstate(all="ignore"):
            normals = face_normals(vertices)
    records = np.zeros(len(vertices), dtype=FACET_DTYPE)
    records["vertices"] = vertices
    records["normal"] = normals
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(header.encode("ascii", "replace")[:HEADER_BYTES].ljust(HEADER_BYTES, b" "))
            fh.write(np.uint32(len(records)).tobytes())
            fh.write(records.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def face_normals(vertices: np.ndarray) -> np.ndarray:
    """Unit normals implied by the vertex order (right-hand rule); zero for degenerate facets."""
    v = np.asarray(vertices, dtype=np.float64)
    cross = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    length = np.linalg.norm(cross, axis=1, keepdims=True)
    normals: np.ndarray = np.divide(cross, length, out=np.zeros_like(cross), where=length > 0)
    return normals
