"""Keep freed host memory mapped, so XLA's CPU buffers are reused instead of page-faulted in every step.

XLA on CPU allocates a step's activations and gradients afresh on every call. Under glibc's defaults each
worker thread gets its own malloc arena, and such an arena serves a block larger than its 64 MiB heap (or
above the dynamic mmap threshold) with a fresh mmap that free() unmaps again: every step then touches new
pages the kernel must zero. Measured on the 2-core dev machine: 31,500 page faults per conv_vae step and
72,000 per char_lstm step, a third of the conv_vae step spent in the kernel. One arena, mmap only above
2 GiB and no trimming take that to zero (BUILD_NOTES "Speed"). The costs: the process keeps its peak heap
instead of returning it to the system (a training process reaches it in its first step anyway), and XLA's
parallel compiles contend for the one arena (~30% longer compiles, seconds, against every step faster).

Set GENJAX_SYSTEM_MALLOC=1 to keep the C library's defaults; libraries other than glibc are left alone.
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's <malloc.h>
INT_MAX = 2 ** 31 - 1  # mallopt takes a C int
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_THRESHOLD, INT_MAX), (M_TRIM_THRESHOLD, INT_MAX))


def mallopt():
  """glibc's mallopt on Linux, or None (musl, macOS: their own policies)."""
  if not sys.platform.startswith("linux"):
    return None
  try:
    return ctypes.CDLL("libc.so.6").mallopt
  except (OSError, AttributeError):
    return None


def keep_freed_memory():
  """Apply SETTINGS; True when glibc took all of them. Call before JAX starts its threads: threads that
  already hold an arena keep it."""
  call = mallopt()
  if call is None or os.environ.get("GENJAX_SYSTEM_MALLOC"):
    return False
  return all([call(option, value) == 1 for option, value in SETTINGS])
