"""Sampling speed of a trained run: the task's own sampler (what `genjax sample` runs) on its restored params.

  python benchmarks/sampling.py --workdir runs/srnn_cpu -n 4 --length 8000 [--repeats 3]

`suite.py` times the canonical architectures with fresh parameters; this times the model a researcher trained,
at the batch and length they sample. Median of `--repeats` blocked calls after two warm-up calls (the first
compiles). Audio runs (sample RNN or GAN) also report the real-time factor: wall seconds per second of audio
generated.
"""

import argparse
import json

import jax

from genjax.train import trainer
from suite import timed


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--workdir", required=True)
  p.add_argument("-n", type=int, default=4, help="samples per call")
  p.add_argument("--length", type=int, default=None,
                 help="steps per sample (autoregressive runs; default: the config's sample.length)")
  p.add_argument("--repeats", type=int, default=3)
  args = p.parse_args()
  run, state, step = trainer.open_run(args.workdir)
  length = args.length or run.config.sample.get("length")  # autoregressive runs: the config's unless given
  kw = {"length": length} if length else {}
  seconds = timed(lambda: run.task.sample(state["params"], jax.random.PRNGKey(0), args.n, **kw), args.repeats)
  row = {"workdir": args.workdir, "step": step, "n": args.n, "seconds_per_call": seconds,
         "samples_per_s": args.n / seconds}
  audio = run.config.modality == "audio"
  units = length or (run.config.data.length if audio else None)
  if units:  # characters or audio samples per sample (a GAN's clip is the configured data length)
    row.update(units_per_sample=units, units_per_s=args.n * units / seconds)
  if audio:
    row["real_time_factor"] = run.config.data.rate / row["units_per_s"]
  print(json.dumps(row))


if __name__ == "__main__":
  main()
