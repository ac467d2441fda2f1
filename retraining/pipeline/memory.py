"""Giving the memory a step freed back to the system, so that it does not add to the next step's peak."""

import ctypes
import functools
import sys


def release_free_memory() -> None:
    """Return the C heap's free pages to the system, and Arrow's.

    glibc keeps freed memory in the process for later allocations, in pages other objects may still
    share: after a run lets go of its frame (once split) and of its row keys' strings, some hundred
    MiB at a million rows stayed in the worker's RSS and under the training step's peak.
    `malloc_trim` hands every wholly free page back, in milliseconds, and Arrow's pool (pandas' text
    columns) is asked for what it kept. Without glibc, only Arrow's part is done.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    # pandas' text columns live in Arrow's memory pool, which keeps what it freed the same way.
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()


@functools.cache
def _malloc_trim() -> "ctypes._NamedFuncPointer | None":
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
