"""Step time of a task's train_step with and without the non-finite guard (median of interleaved runs).

  python benchmarks/guard_overhead.py [--config configs/char_rnn_shakespeare.py:cpu] [--steps 30] [--rounds 5]

Synthetic batches, one device, data loading excluded: this measures the guard's on-device cost only.
"""

import argparse
import statistics
import time

import jax
import numpy as np

from genjax import tasks
from genjax.main import load_config
from genjax.train import guard


def time_steps(step, state, batch, n):
  state, m = step(state, batch)  # compile + warm-up
  jax.block_until_ready(m)
  t0 = time.perf_counter()
  for _ in range(n):
    state, m = step(state, batch)
  jax.block_until_ready((state, m))
  return (time.perf_counter() - t0) / n, state


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--config", default="configs/char_rnn_shakespeare.py:cpu")
  p.add_argument("--steps", type=int, default=30)
  p.add_argument("--rounds", type=int, default=5)
  args = p.parse_args()
  config = load_config(args.config, [])
  vocab = [chr(i) for i in range(32, 32 + 65)]
  task = tasks.get(config.task)(config, {"vocab": vocab})
  tokens = np.random.default_rng(0).integers(0, len(vocab), (config.batch_size, config.data.seq_len + 1))
  batch = {"tokens": jax.numpy.asarray(tokens, jax.numpy.int32)}
  init = jax.jit(lambda: dict(task.init(jax.random.PRNGKey(0)), guard=guard.init()))
  plain = jax.jit(task.train_step, donate_argnums=0)
  guarded = jax.jit(guard.wrap(task.train_step), donate_argnums=0)
  s_plain, s_guard = init(), init()
  times = {"plain": [], "guarded": []}
  for _ in range(args.rounds):  # interleave so drift on a shared machine hits both sides alike
    t, s_plain = time_steps(plain, s_plain, batch, args.steps)
    times["plain"].append(t)
    t, s_guard = time_steps(guarded, s_guard, batch, args.steps)
    times["guarded"].append(t)
  med = {k: statistics.median(v) * 1000 for k, v in times.items()}
  print(f"{args.config}: plain {med['plain']:.1f} ms/step, guarded {med['guarded']:.1f} ms/step, "
        f"overhead {100 * (med['guarded'] / med['plain'] - 1):+.1f}% (median of {args.rounds} rounds x "
        f"{args.steps} steps, {jax.device_count()} device)")


if __name__ == "__main__":
  main()
