"""Where a benchmark model's training step spends its time, op by op: the compiled step run under
jax.profiler, its XLA ops ranked by their summed time per step, each with its output shape and the jax
operation it came from.

  python benchmarks/op_profile.py --model conv_vae [--steps 10] [--top 30] [--json]

The step is the one benchmarks/suite.py times (same config, synthetic batch, compiled once). Times are the
ops' own, summed over the threads that ran them (the CPU backend runs small ops on the calling thread, larger
ones on its worker pool), so their total can exceed the step's wall clock where two ops run at once; the
total is printed for scale. Trace events that are no instruction of the compiled module (the executor's
envelopes, thread-pool bookkeeping) are left out. This is a developer's tool for choosing what to speed
up (a layout copy costing more than the matmul it feeds, a convolution off the fast path); suite.py remains
the measure of a change.
"""

import argparse
import collections
import glob
import json
import re
import tempfile

import jax
from jax.profiler import ProfileData

from suite import MODELS, setup


def op_times(compiled, args, steps, trace_dir, names):
  """{op name: seconds per step} of `compiled(*args)` over `steps` traced calls (after two untraced), for the
  trace events named in `names` (the module's instructions)."""
  for _ in range(2):
    jax.block_until_ready(compiled(*args))
  with jax.profiler.trace(trace_dir):
    for _ in range(steps):
      jax.block_until_ready(compiled(*args))
  profile = ProfileData.from_file(sorted(glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True))[-1])
  total = collections.Counter()
  for plane in profile.planes:
    for line in plane.lines:
      for event in line.events:
        if event.name in names:
          total[event.name] += event.duration_ns / 1e9 / steps
  return total


def describe(hlo_text):
  """{instruction name: (output shape, source jax op)} from the compiled module's text."""
  found = {}
  for line in hlo_text.splitlines():
    m = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = (\S+) ", line)
    if m and m.group(1) not in found:
      source = re.search(r'op_name="([^"]+)"', line)
      found[m.group(1)] = (m.group(2), source.group(1) if source else "")
  return found


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--model", choices=MODELS, required=True)
  p.add_argument("--steps", type=int, default=10)
  p.add_argument("--top", type=int, default=30)
  p.add_argument("--json", action="store_true", help="one JSON line per op")
  a = p.parse_args()
  _, task, batch = setup(a.model)
  state = task.init(jax.random.key(0))
  compiled = jax.jit(task.train_step).lower(state, batch).compile()
  shapes = describe(compiled.as_text())
  with tempfile.TemporaryDirectory() as trace_dir:
    times = op_times(compiled, (state, batch), a.steps, trace_dir, shapes)
  total = sum(times.values())
  print(f"{a.model}: {1e3 * total:.1f} ms of op time per step over {len(times)} ops")
  for name, seconds in times.most_common(a.top):
    shape, source = shapes[name]
    if a.json:
      print(json.dumps({"model": a.model, "op": name, "ms": 1e3 * seconds, "share": seconds / total,
                        "shape": shape, "source": source}))
    else:
      print(f"{1e3 * seconds:8.2f} ms {100 * seconds / total:5.1f}%  {name:30s} {shape:38s} {source[-70:]}")


if __name__ == "__main__":
  main()
