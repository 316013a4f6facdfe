"""Memory-allocator tunings for the large numpy passes (the mesh checks, the G-code check).

They change speed and peak memory only, never a result. Each is applied once per process and has no effect
where it does not apply (another C library than glibc, a numpy without the switch).
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)


def _mallopt(*settings: tuple[int, int]) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)  # the C library already loaded in this process (no ldconfig lookup)
        for parameter, value in settings:
            libc.mallopt(parameter, value)
    except (OSError, AttributeError):  # not glibc (musl, ...): keep the allocator's defaults
        pass


@lru_cache(maxsize=1)
def keep_freed_memory() -> None:
    """Let glibc reuse freed heap memory for per-chunk numpy temporaries (100 KB - 2 MB each).

    By default glibc gives blocks of that size their own mmap and returns them on free, so every chunk
    page-faults (and zeroes) its temporaries afresh: ~140k page faults for a 1.2M-line G-code file, a third
    of its check. Raising the mmap and trim thresholds to 32 / 64 MB keeps them in the heap, for the whole
    process (it holds at most 64 MB of freed memory more)."""
    _mallopt((_M_TRIM_THRESHOLD, 64 << 20), (_M_MMAP_THRESHOLD, 32 << 20))


@lru_cache(maxsize=1)
def one_heap() -> None:
    """Make glibc serve every thread from one heap (``M_ARENA_MAX`` 1). By default each thread that
    allocates gets a heap of its own, which keeps the blocks freed there for its next allocations: the mesh
    checks' slab workers' temporaries (a few MB each) then stay twice: a 1.3M-facet check peaked at 235 MB
    instead of 210 MB (measured). Threads started before keep their heap."""
    _mallopt((_M_ARENA_MAX, 1))


@lru_cache(maxsize=1)
def small_pages() -> None:
    """Stop numpy asking the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)`` on arrays of 4 MB
    and more). Where the kernel serves such requests by compacting memory on the spot (``defrag`` set to
    ``madvise``, Debian's default), a 1.3M-facet mesh check spent 0.2-1.0 s in the kernel instead of 0.3 s
    and took 2.56 s instead of 2.05 s (median of 8 runs each, measured on a 2-core VM); the page faults it
    saves cost less than that. Someone who sets ``NUMPY_MADVISE_HUGEPAGE`` has chosen: left as they set it.
    It holds for the rest of the process (numpy's switch is process-wide)."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x keeps it in numpy.core
        from numpy.core import multiarray  # type: ignore[no-redef]
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is not None:
        switch(False)
