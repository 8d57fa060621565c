"""glibc malloc settings: a freed large block comes back from the heap instead of as fresh, zeroed pages.

Runs in a fresh interpreter (conftest opts the test process out) and on one thread, where glibc's behaviour is
deterministic; the effect on XLA's steps is measured in BUILD_NOTES ("Speed").
"""

import os
import subprocess
import sys

import pytest

from genjax import allocator

MEASURE = """
import ctypes, resource
import genjax  # applies the settings unless GENJAX_SYSTEM_MALLOC is set
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
size = 64 << 20  # above glibc's largest dynamic mmap threshold, like a step's big activations

def step():
  block = libc.malloc(size)
  ctypes.memset(block, 1, size)
  libc.free(block)

step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
  step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(**env):
  env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
  out = subprocess.run([sys.executable, "-c", MEASURE], env=env, capture_output=True, text=True, check=True)
  return int(out.stdout.split()[-1])


def test_repeated_large_outputs_reuse_freed_memory():
  if allocator.mallopt() is None:
    pytest.skip("not glibc on Linux")
  kept = page_faults(GENJAX_SYSTEM_MALLOC=None)
  assert kept < 1000, f"{kept} page faults for 5 x 64 MiB blocks: freed memory was unmapped"
  assert page_faults(GENJAX_SYSTEM_MALLOC="1") > 5 * 10_000  # the opt-out: each block faulted in afresh
