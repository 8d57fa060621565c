"""The conv VAE's importance-weighted evaluation: test images/s at k posterior samples, and the wall time that
projects for the whole binarized MNIST test set (10,000 images).

  python benchmarks/iw_eval.py [--k 1000] [--batch 200] [--decode-batch 512] [--steps 3] [--json]

Times the real task's jitted eval_step (configs/vae_mnist.py at its canonical shape; random weights, since
the cost does not depend on them) on synthetic binary images, the median of `--steps` calls after two warm-up
calls, each blocked on; with the FLOPs of a call as a fraction of this machine's float32 matmul peak (XLA's
cost analysis counts a loop's body once, so this is the cost of one chunk of samples, encoder included,
times the chunks: the encoder, about a tenth of a decoding, is counted once per chunk). `genjax eval
--config.eval_iw_samples=K` runs this step over the test set (and then draws its quality samples, which this
leaves out). Run it on an idle machine; paste the line into
BUILD_NOTES.md.
"""

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from genjax import tasks
from genjax.tasks.vae import iw_chunk
from genjax.main import load_config
from suite import machine, matmul_peak, timed

TEST_IMAGES = 10_000


def compiled_eval(k, batch, decode_batch):
  """(the jitted eval_step at k samples, its state, a batch of synthetic binary images)."""
  config = load_config("configs/vae_mnist.py", [f"--config.eval_iw_samples={k}",
                                                f"--config.eval_decode_batch={decode_batch}"])
  task = tasks.get(config.task)(config, {"shape": list(config.data.shape)})
  state = task.init(jax.random.key(0))
  rng = np.random.default_rng(0)
  images = {"image": jnp.asarray(rng.random((batch, *config.data.shape)) < 0.13, jnp.float32),
            "weight": jnp.ones((batch,), jnp.float32)}
  return jax.jit(task.eval_step).lower(state, images).compile(), state, images


def bench(k, batch, decode_batch, steps, peak):
  compiled, state, images = compiled_eval(k, batch, decode_batch)
  chunk = iw_chunk(k, batch, decode_batch)
  flops = float(compiled_eval(chunk, batch, decode_batch)[0].cost_analysis().get("flops", 0.0)) * (k // chunk)
  seconds = timed(lambda: compiled(state, images), steps)
  return {"k": k, "batch": batch, "decode_batch": decode_batch, "images_per_s": batch / seconds,
          "call_s_median": seconds,
          "test_set_minutes": TEST_IMAGES / (batch / seconds) / 60, "flops_per_call": flops,
          "flop_fraction_of_peak": flops / seconds / peak, "machine": machine()}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--k", type=int, default=1000)
  parser.add_argument("--batch", type=int, default=200)
  parser.add_argument("--decode-batch", type=int, default=512, help="eval_decode_batch: decodings per pass")
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--json", action="store_true")
  args = parser.parse_args()
  peak = matmul_peak()
  row = bench(args.k, args.batch, args.decode_batch, args.steps, peak)
  row["matmul_peak_gflops"] = peak / 1e9
  if args.json:
    print(json.dumps(row))
  else:
    print(f"k={row['k']} batch {row['batch']} decode batch {row['decode_batch']}: {row['images_per_s']:.1f} "
          f"images/s, {row['call_s_median']:.2f} s a call, full test set {row['test_set_minutes']:.1f} min, "
          f"{row['flop_fraction_of_peak']:.0%} of the {row['matmul_peak_gflops']:.0f} GFLOP/s matmul peak "
          f"({row['machine']})")


if __name__ == "__main__":
  main()
