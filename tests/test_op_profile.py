"""benchmarks/op_profile.py reads the profiler's trace back into per-op times and names them from the HLO."""

import pathlib
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
import op_profile  # noqa: E402


def test_op_times_finds_the_ops_of_a_compiled_function_and_describe_names_them(tmp_path):
  f = jax.jit(lambda a: jnp.tanh(a @ a).sum())
  a = jnp.ones((256, 256))
  compiled = f.lower(a).compile()
  shapes = op_profile.describe(compiled.as_text())
  times = op_profile.op_times(compiled, (a,), 3, str(tmp_path), shapes)
  assert times and all(t > 0 for t in times.values()) and set(times) <= set(shapes)
  assert "jit(<lambda>)" in " ".join(shapes[n][1] for n in times)  # named back to the jax function's ops
