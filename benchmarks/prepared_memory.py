"""Resident memory of training from prepared ArrayRecord shards as the dataset grows: MNIST prepared once as
it is and once repeated `--times` times, then each read for a whole epoch by the training pipeline, and
trained on for `--steps` steps by `genjax train`, each in a fresh process; prints peak RSS per size.

  python benchmarks/prepared_memory.py [--times 20] [--steps 300] [--root /tmp/genjax-prepared-memory]

The in-memory pipeline holds the whole dataset (MNIST: 47 MB of uint8 pixels, x20: 940 MB); from shards,
memory is the cache of decoded blocks plus 8 bytes an example for the epoch's order.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

CONFIG = "configs/vae_mnist.py:smoke"


class Repeated:
  """`source` repeated `times` times: a dataset larger than any one copy, never held whole."""

  def __init__(self, source, times):
    self.source, self.times = source, times

  def __len__(self):
    return len(self.source) * self.times

  def read(self, indices):
    return self.source.read(np.asarray(indices) % len(self.source))


def prepare(root, times):
  """MNIST (x `times`) as the VAE config loads it, prepared under `root`; returns the folder."""
  from genjax.data import prepared
  from genjax.main import load_config
  from genjax.train import trainer
  folder = os.path.join(root, f"mnist_x{times}")
  if os.path.isfile(os.path.join(folder, "manifest.json")):
    return folder
  config = load_config(CONFIG, [])
  if times == 1:
    return trainer.prepare(config, folder, log=lambda *_: None)
  from genjax import tasks
  data = tasks.get(config.task).load_data(config)
  data.train = Repeated(data.train, times)
  return str(prepared.write(data, folder, config.data.to_dict(), config.modality, log=lambda *_: None))


def peak_rss_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def epoch(times, folder):
  """Child process: one epoch of the training pipeline, from `folder`'s shards, or (folder '') from MNIST
  x `times` held in memory; prints examples/s and peak RSS."""
  from genjax import modalities
  from genjax.data import pipeline, sources
  from genjax.main import load_config
  config = load_config(CONFIG, [f"--config.data.prepared={folder}"])
  data = modalities.load_data(config, binary=True)
  if not folder:
    data.train = sources.ArraySource({k: np.concatenate([v] * int(times)) for k, v in data.train.arrays.items()})
  it = pipeline.train_iterator(data.train, data.transform, 128, 0)
  t0, n = time.perf_counter(), len(data.train) // 128
  for _ in range(n):
    next(it)
  seconds = time.perf_counter() - t0
  it.close()
  print(json.dumps({"examples": len(data.train), "examples_per_s": round(n * 128 / seconds),
                    "peak_rss_mb": round(peak_rss_mb())}))


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--times", type=int, default=20)
  p.add_argument("--steps", type=int, default=300)
  p.add_argument("--root", default="/tmp/genjax-prepared-memory")
  args = p.parse_args()
  for times in (1, args.times):
    folder = prepare(args.root, times)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 2 ** 20
    row = {"times": times, "shards_mb": round(size)}
    for source, where in (("memory", ""), ("arrayrecord", folder)):
      row[source] = child("epoch", str(times), where)
    row["train"] = child("train", folder, os.path.join(args.root, f"run_x{times}"), str(args.steps))
    print(json.dumps(row), flush=True)


def child(*argv):
  """The JSON line a fresh process of this script prints for `argv`."""
  out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def train(folder, workdir, steps):
  """Child process: `genjax train` of the VAE smoke config from `folder` for `steps` steps at batch 128."""
  import shutil

  from genjax import main as cli
  shutil.rmtree(workdir, ignore_errors=True)
  t0 = time.perf_counter()
  code = cli.main(["train", "--config", CONFIG, "--workdir", workdir, f"--config.data.prepared={folder}",
                   f"--config.steps={steps}", "--config.batch_size=128", f"--config.ckpt_every={steps}",
                   f"--config.eval_every={steps}", f"--config.sample_every={steps}", "--config.eval_quality_periodic=0"],
                  stream=open(os.devnull, "w"))
  print(json.dumps({"exit": code, "steps": int(steps), "seconds": round(time.perf_counter() - t0, 1),
                    "peak_rss_mb": round(peak_rss_mb())}))


if __name__ == "__main__":
  modes = {"epoch": epoch, "train": train}
  if len(sys.argv) > 1 and sys.argv[1] in modes:
    modes[sys.argv[1]](*sys.argv[2:])
  else:
    main()
