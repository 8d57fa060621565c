"""One config trained in float32 and in bfloat16, its curves side by side (issue 15's bf16 check on real data).

  python benchmarks/precision_curves.py --config configs/vae_mnist.py:cpu --root runs/precision [--steps N]
      [--metrics train/loss,eval/loss] [--markdown]

Each precision trains with `genjax train` into ROOT/f32 and ROOT/bf16 (a finished one is not retrained: the
trainer resumes it and stops), then every logged step of each metric is printed with both values and the
relative gap. `--steps` cuts a long recipe to its first N steps for both runs alike.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from launch.sweep import read_metrics  # noqa: E402

PRECISIONS = ("f32", "bf16")


def train(config, workdir, precision, steps):
  """A `genjax train` run of `config` in `precision` (its output goes to workdir/train.log)."""
  cmd = [sys.executable, "-m", "genjax.main", "train", "--config", config, "--workdir", workdir,
         f"--config.precision={precision}", *([f"--config.steps={steps}"] if steps else [])]
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "train.log"), "a", encoding="utf-8") as log:
    subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)


def rows(curves, metric):
  """(step, f32 value, bf16 value, relative gap) at every step both runs logged `metric`."""
  f32, bf16 = (curves[p].get(metric, {}) for p in PRECISIONS)
  return [(s, f32[s], bf16[s], abs(bf16[s] - f32[s]) / max(abs(f32[s]), 1e-12)) for s in sorted(f32.keys() & bf16)]


def render(metric, table, markdown):
  """The metric's rows as aligned text or a markdown table."""
  head = ("step", f"{metric} f32", f"{metric} bf16", "rel. gap")
  body = [(str(s), f"{a:.4f}", f"{b:.4f}", f"{g:.1e}") for s, a, b, g in table]
  if markdown:
    return "\n".join("| " + " | ".join(r) + " |" for r in (head, ("---",) * 4, *body))
  return "\n".join("  ".join(c.rjust(18) for c in r) for r in (head, *body))


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--config", required=True)
  p.add_argument("--root", required=True, help="parent folder of the f32 and bf16 workdirs")
  p.add_argument("--steps", type=int, help="train only the first N steps of the recipe (both precisions)")
  p.add_argument("--metrics", default="train/loss,eval/loss", help="comma-separated metrics.jsonl keys")
  p.add_argument("--markdown", action="store_true")
  args = p.parse_args(argv)
  curves = {}
  for precision in PRECISIONS:
    workdir = os.path.abspath(os.path.join(args.root, precision))
    train(args.config, workdir, precision, args.steps)
    curves[precision] = read_metrics(workdir)
  for metric in args.metrics.split(","):
    table = rows(curves, metric)
    print(render(metric, table, args.markdown) if table else f"{metric}: not logged by both runs", end="\n\n")
  return 0


if __name__ == "__main__":
  sys.exit(main())
