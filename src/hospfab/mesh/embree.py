"""Intel Embree 4 through ``ctypes``: the library that the ``embreex`` wheel bundles, bound directly.

``embreex`` copies a mesh into Embree's buffers one Python-level index at a time (about 0.7 us a facet, more
than Embree's own BVH build); here Embree reads the numpy arrays in place (``rtcSetSharedGeometryBuffer``),
and rays go in packets of 16 (``rtcIntersect16``, one foreign call per packet; ctypes releases the GIL during
the call, so two threads cast at once). Nothing is compiled: the wheel stays pure Python. When the bundled
library cannot be found or loaded (another platform's wheel layout, another Embree major version),
:func:`library` returns None and :mod:`hospfab.mesh.raycast` falls back on ``embreex`` itself.

Layouts and constants are those of Embree 4's public headers (``include/embree4/rtcore_*.h``, v4.4.0).
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import weakref
from collections import deque
from functools import lru_cache
from itertools import repeat

import numpy as np
import numpy.typing as npt

from hospfab.errors import HospfabError

# rtcore_common.h / rtcore_buffer.h / rtcore_geometry.h / rtcore_scene.h / rtcore_device.h
_FORMAT_UINT3 = 0x5003
_FORMAT_FLOAT3 = 0x9003
_BUFFER_INDEX = 0
_BUFFER_VERTEX = 1
_GEOMETRY_TRIANGLE = 0
_SCENE_FLAG_ROBUST = 1 << 2  # as embreex sets it: no hit lost between neighbouring facets
_PROPERTY_VERSION_MAJOR = 1
INVALID_ID = 0xFFFFFFFF  # RTC_INVALID_GEOMETRY_ID: no hit
BUILD_QUALITY = 1  # RTC_BUILD_QUALITY_MEDIUM, Embree's default: LOW builds no faster here

# RTCRayHit16 (rtcore_ray.h): rows of 16 lanes (float32 or uint32), 64-byte aligned, in this order:
# ray org_x org_y org_z tnear dir_x dir_y dir_z time tfar mask id flags, then hit Ng_x Ng_y Ng_z u v primID
# geomID instID[L] (instPrimID[L]), L = RTC_MAX_INSTANCE_LEVEL_COUNT (1 in the release build). Room is
# left for L up to 4, so that another build cannot write past a packet into the next one.
LANES = 16
ORG, TNEAR, DIR, TIME, TFAR, MASK, ID, FLAGS = 0, 3, 4, 7, 8, 9, 10, 11
PRIM_ID, GEOM_ID = 17, 18
PACKET_ROWS = 12 + 7 + 2 * 4
_ALIGN = 64


class RayCastError(HospfabError):
    """Embree could not build a scene or was given something it refuses (out of memory, say): the surface
    checks (self-intersections, thin walls) cannot run on this mesh."""

    code = "surface_checks_failed"


class Library:
    """The loaded Embree library and one device (Embree's thread pool), shared by every scene."""

    def __init__(self, path: str) -> None:
        self.path = path
        lib = ctypes.CDLL(path)
        vp, uint, size = ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t
        signatures: dict[str, tuple[object, list[object]]] = {
            "rtcNewDevice": (vp, [ctypes.c_char_p]),
            "rtcGetDeviceProperty": (ctypes.c_ssize_t, [vp, ctypes.c_int]),
            "rtcGetDeviceError": (ctypes.c_int, [vp]),
            "rtcGetDeviceLastErrorMessage": (ctypes.c_char_p, [vp]),
            "rtcGetErrorString": (ctypes.c_char_p, [ctypes.c_int]),
            "rtcNewScene": (vp, [vp]),
            "rtcSetSceneFlags": (None, [vp, ctypes.c_int]),
            "rtcSetSceneBuildQuality": (None, [vp, ctypes.c_int]),
            "rtcNewGeometry": (vp, [vp, ctypes.c_int]),
            "rtcSetSharedGeometryBuffer": (None, [vp, ctypes.c_int, uint, ctypes.c_int, vp, size, size,
                                                  size]),
            "rtcCommitGeometry": (None, [vp]),
            "rtcAttachGeometry": (uint, [vp, vp]),
            "rtcReleaseGeometry": (None, [vp]),
            "rtcCommitScene": (None, [vp]),
            "rtcReleaseScene": (None, [vp]),
            "rtcIntersect16": (None, [vp, vp, vp, vp]),
        }
        for name, (restype, argtypes) in signatures.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
        self.lib = lib
        # one build thread: scenes are built on a thread of their own beside the casting (raycast.SlabPlan);
        # Embree's own worker pool only competed with it for the two cores (measured slower)
        device = lib.rtcNewDevice(b"threads=1")
        if not device:
            raise OSError(f"{path}: rtcNewDevice failed")
        self.device: int = device
        major = lib.rtcGetDeviceProperty(device, _PROPERTY_VERSION_MAJOR)
        if major != 4:
            raise OSError(f"{path}: Embree {major}, not 4")

    def check(self, doing: str) -> None:
        """Raise :class:`RayCastError` if Embree recorded an error (in this thread) while ``doing``."""
        code = int(self.lib.rtcGetDeviceError(self.device))
        if code:
            name = (self.lib.rtcGetErrorString(code) or b"").decode(errors="replace")
            detail = (self.lib.rtcGetDeviceLastErrorMessage(self.device) or b"").decode(errors="replace")
            raise RayCastError(f"Embree failed {doing}: {name} ({detail or 'no detail'})",
                               details={"embree_error": code})


def _candidates() -> list[str]:
    """The Embree 4 libraries shipped inside the installed embreex wheel (Linux, macOS, Windows layouts)."""
    spec = importlib.util.find_spec("embreex")
    if spec is None or not spec.submodule_search_locations:
        return []
    package = next(iter(spec.submodule_search_locations))
    site = os.path.dirname(package)
    patterns = [os.path.join(site, "embreex.libs", "libembree4*.so*"),
                os.path.join(package, ".dylibs", "libembree4*.dylib"),
                os.path.join(site, "embreex.libs", "embree4*.dll")]
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


@lru_cache(maxsize=1)
def library() -> Library | None:
    """The bundled Embree 4, loaded once; None when it cannot be found or loaded (then use embreex)."""
    for path in _candidates():
        try:
            return Library(path)
        except (OSError, AttributeError):
            continue
    return None


def _release(lib: ctypes.CDLL, scene: int, *buffers: object) -> None:
    """Free a scene; ``buffers`` (the shared vertex and index arrays) stay alive until then."""
    lib.rtcReleaseScene(scene)


def aligned(shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """An uninitialised float32 array of ``shape`` whose data starts on a 64-byte boundary."""
    count = int(np.prod(shape))
    raw = np.empty(count + _ALIGN // 4, np.float32)
    skip = (-raw.ctypes.data % _ALIGN) // 4
    return raw[skip:skip + count].reshape(shape)


def vertex_buffer(positions: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """``positions`` (v, 3) as Embree reads them: float32, plus one spare row, since Embree may read the last
    vertex as 16 bytes (SSE loads). One buffer can serve every scene of a mesh. When ``positions`` already
    is all but the last row of such an array (float32, C order), that array is used: no copy."""
    parent = positions.base
    if (isinstance(parent, np.ndarray) and parent.dtype == np.float32 and parent.flags.c_contiguous
            and parent.shape == (len(positions) + 1, 3) and positions.ctypes.data == parent.ctypes.data
            and positions.flags.c_contiguous):
        spare: npt.NDArray[np.float32] = parent
        return spare
    vertices = np.zeros((len(positions) + 1, 3), np.float32)
    vertices[:-1] = positions
    return vertices


class Scene:
    """A BVH over one triangle mesh, ``faces`` (m, 3) into ``vertices`` (:func:`vertex_buffer`), built on
    construction; Embree reads both arrays in place. Freed when the object is garbage-collected."""

    def __init__(self, embree: Library, vertices: npt.NDArray[np.float32], faces: npt.NDArray[np.integer]):
        self._embree = embree
        lib, device = embree.lib, embree.device
        if vertices.dtype != np.float32 or vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) < 1 \
                or not vertices.flags.c_contiguous:
            raise ValueError("vertices: a C-contiguous (v + 1, 3) float32 array from vertex_buffer()")
        if faces.dtype in (np.int32, np.uint32):
            index = np.ascontiguousarray(faces).view(np.uint32)
        else:
            index = np.ascontiguousarray(faces, np.uint32)
        embree.check("before building a scene")  # an error left over from elsewhere is not this scene's
        scene = lib.rtcNewScene(device)
        if not scene:
            embree.check("creating a scene")
            raise RayCastError("Embree failed creating a scene")
        self.handle: int = scene
        self._finalizer = weakref.finalize(self, _release, lib, scene, vertices, index)
        lib.rtcSetSceneFlags(scene, _SCENE_FLAG_ROBUST)
        lib.rtcSetSceneBuildQuality(scene, BUILD_QUALITY)
        geometry = lib.rtcNewGeometry(device, _GEOMETRY_TRIANGLE)
        if not geometry:
            embree.check("creating a triangle geometry")
            raise RayCastError("Embree failed creating a triangle geometry")
        lib.rtcSetSharedGeometryBuffer(geometry, _BUFFER_VERTEX, 0, _FORMAT_FLOAT3, vertices.ctypes.data, 0,
                                       12, len(vertices) - 1)
        lib.rtcSetSharedGeometryBuffer(geometry, _BUFFER_INDEX, 0, _FORMAT_UINT3, index.ctypes.data, 0, 12,
                                       len(index))
        lib.rtcCommitGeometry(geometry)
        lib.rtcAttachGeometry(scene, geometry)
        lib.rtcReleaseGeometry(geometry)
        lib.rtcCommitScene(scene)
        embree.check(f"building a scene of {len(index):,} facets")

    def intersect(self, origins: npt.NDArray[np.floating], directions: npt.NDArray[np.floating],
                  near: npt.NDArray[np.floating] | float, far: npt.NDArray[np.floating] | float
                  ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.float32]]:
        """Closest hit of each ray ``origins + t * directions``, ``near <= t <= far`` (per ray, or one value
        for all): (geomID (INVALID_ID: none), primID, t)."""
        n = len(origins)
        packets = -(-n // LANES)
        rays = aligned((packets, PACKET_ROWS, LANES))
        bits = rays.view(np.uint32)
        full = n // LANES  # packets without padding lanes
        for row, values, pad in ((ORG, origins, 0.0), (DIR, directions, 1.0)):
            block = rays[:, row:row + 3, :]
            block[:full] = values[:full * LANES].reshape(full, LANES, 3).transpose(0, 2, 1)
            if full < packets:
                block[full] = pad
                block[full, :, :n - full * LANES] = values[full * LANES:].T
        for row, column in ((TNEAR, near), (TFAR, far)):
            lane = rays[:, row, :]
            if not isinstance(column, np.ndarray):
                lane[:] = column
                continue
            lane[:full] = column[:full * LANES].reshape(full, LANES)
            if full < packets:
                lane[full] = 0.0
                lane[full, :n - full * LANES] = column[full * LANES:]
        rays[:, TIME, :] = 0.0
        bits[:, MASK, :] = 0xFFFFFFFF
        bits[:, ID, :] = 0
        bits[:, FLAGS, :] = 0
        bits[:, GEOM_ID, :] = INVALID_ID
        valid = aligned((2, LANES)).view(np.int32)  # all lanes; the last packet's (64-byte aligned too)
        valid[:] = -1
        valid[1, n - (packets - 1) * LANES:] = 0
        intersect16, scene = self._embree.lib.rtcIntersect16, self.handle
        base, stride, every = rays.ctypes.data, PACKET_ROWS * LANES * 4, valid.ctypes.data
        calls = packets - 1  # every packet but the last, through map: no bytecode runs between the calls
        addresses = range(base, base + calls * stride, stride)
        deque(map(intersect16, repeat(every, calls), repeat(scene, calls), addresses, repeat(None, calls)),
              maxlen=0)
        intersect16(every + LANES * 4, scene, base + (packets - 1) * stride, None)
        self._embree.check("casting rays")
        return (bits[:, GEOM_ID, :].reshape(-1)[:n], bits[:, PRIM_ID, :].reshape(-1)[:n],
                rays[:, TFAR, :].reshape(-1)[:n])
