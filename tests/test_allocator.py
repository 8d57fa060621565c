"""glibc malloc settings: XLA's per-step buffers come back from the heap instead of fresh, zeroed pages."""

import resource

import jax
import jax.numpy as jnp
import pytest

from genjax import allocator


def test_repeated_large_outputs_reuse_freed_memory():
  if not allocator.keep_freed_memory():
    pytest.skip("not glibc on Linux, or GENJAX_SYSTEM_MALLOC is set")
  double = jax.jit(lambda x: x * 2)
  x = jnp.ones((16 << 20,), jnp.float32)  # 64 MiB: above glibc's largest dynamic mmap threshold
  for _ in range(3):
    double(x).block_until_ready()
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  for _ in range(5):
    double(x).block_until_ready()
  faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
  assert faults < 1000, f"{faults} page faults for 5 x 64 MiB outputs: freed buffers were unmapped"
