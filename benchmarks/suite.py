"""The benchmark suite: the five canonical models' training steps on one CPU/accelerator device.

  python benchmarks/suite.py                        everything, as a table (and JSON lines with --json)
  python benchmarks/suite.py --model conv_vae [--steps 20] --json     one model, one JSON line

Each model is the real task's jitted train_step on one device, on synthetic inputs of the canonical shape
(data loading excluded): median step time over `--steps` timed steps after two warm-up steps, each blocked
on, compile time, parameters, FLOPs per step from XLA's cost analysis, and achieved FLOP/s as a fraction of
this machine's float32 matmul peak (measured here). Run it by hand on an idle machine (other processes
distort CPU timings badly); paste the output into BUILD_NOTES.md.
"""

import argparse
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from genjax import tasks
from genjax.main import load_config

MODELS = ("char_lstm", "conv_vae", "dcgan", "wavegan", "sample_rnn")


def timed(fn, *args, steps):
  """Median seconds of `steps` calls after two warm-up calls; each call blocked on."""
  for _ in range(2):
    jax.block_until_ready(fn(*args))
  times = []
  for _ in range(steps):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def matmul_peak(n=2048, steps=10):
  """float32 FLOP/s of one large jitted matmul: this machine's practical peak."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  return 2 * n ** 3 / timed(jax.jit(lambda a: a @ a), a, steps=steps)


def setup(name):
  """(config, task, synthetic batch) of a canonical model."""
  config = load_config(f"configs/bench/{name}.py", [])
  rng = np.random.default_rng(0)
  if config.task == "char_rnn":
    vocab = 65 if name == "char_lstm" else 256
    task = tasks.get(config.task)(config, {"vocab": [chr(0x100 + i) for i in range(vocab)]})
    tokens = rng.integers(0, vocab, (config.batch_size, config.data.seq_len + 1))
    return config, task, {"tokens": jnp.asarray(tokens, jnp.int32)}
  shape = tuple(config.data.shape)
  task = tasks.get(config.task)(config, {"shape": list(shape)})
  return config, task, {"image": jnp.asarray(rng.random((config.batch_size, *shape)), jnp.float32)}


def bench_model(name, steps, peak):
  config, task, batch = setup(name)
  state = task.init(jax.random.key(0))
  params = sum(x.size for x in jax.tree.leaves(state["params"]))
  t0 = time.perf_counter()
  compiled = jax.jit(task.train_step, donate_argnums=0).lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  flops = float(compiled.cost_analysis().get("flops", 0.0))
  holder = [state]

  def step(batch):
    holder[0], metrics = compiled(holder[0], batch)
    return metrics
  seconds = timed(step, batch, steps=steps)
  return {"model": name, "examples_per_s": config.batch_size / seconds, "step_ms_median": 1e3 * seconds,
          "compile_s": compile_s, "params": int(params), "flops_per_step": flops,
          "flop_fraction_of_peak": flops / seconds / peak, "batch": config.batch_size}


def machine():
  cores = os.cpu_count()
  return f"{platform.processor() or platform.machine()}, {cores} cores, jax {jax.__version__}, {jax.devices()[0].platform}"


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--model", choices=MODELS, action="append", help="repeatable; default: all five")
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--json", action="store_true", help="one JSON line per model")
  args = p.parse_args()
  peak = matmul_peak()
  rows = [bench_model(name, args.steps, peak) for name in (args.model or MODELS)]
  if args.json:
    for row in rows:
      print(json.dumps(dict(row, peak_flops=peak)))
    return
  print(f"{machine()}; float32 matmul peak {peak / 1e9:.1f} GFLOP/s; median of {args.steps} steps")
  print(f"{'model':<11} {'batch':>5} {'examples/s':>11} {'step ms':>9} {'compile s':>9} {'params':>10} "
        f"{'GFLOP/step':>10} {'of peak':>8}")
  for r in rows:
    print(f"{r['model']:<11} {r['batch']:>5} {r['examples_per_s']:>11.1f} {r['step_ms_median']:>9.1f} "
          f"{r['compile_s']:>9.1f} {r['params']:>10,} {r['flops_per_step'] / 1e9:>10.2f} "
          f"{r['flop_fraction_of_peak']:>8.1%}")


if __name__ == "__main__":
  main()
