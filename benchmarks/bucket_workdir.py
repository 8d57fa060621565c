"""Wall time of training into a local folder vs a gs:// workdir, the bucket served by a local Cloud Storage
emulator (no network: this measures genjax's own cost of object storage, not GCS's latency).

  PYTHONPATH=. python benchmarks/bucket_workdir.py [--config configs/char_rnn_pydoc.py:smoke] [--rounds 3]

One process, the two kinds interleaved in each round, after a warm-up round of each that holds the compiles.
Needs the test extra (gcp-storage-emulator).
"""

import argparse
import io
import statistics
import tempfile
import time

from genjax import main as cli
from tests.train.emulator import storage


def train_seconds(config, workdir):
  start = time.perf_counter()
  if cli.main(["train", "--config", config, "--workdir", workdir], stream=io.StringIO()) != 0:
    raise SystemExit(f"training into {workdir} failed")
  return time.perf_counter() - start


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--config", default="configs/char_rnn_pydoc.py:smoke")
  p.add_argument("--rounds", type=int, default=3)
  args = p.parse_args()
  local = tempfile.mkdtemp(prefix="genjax-bench-")
  times = {"local": [], "gs": []}
  with storage("genjax-bench") as bucket:
    for r in range(args.rounds + 1):
      for kind, root in (("local", local), ("gs", bucket)):
        seconds = train_seconds(args.config, f"{root}/round{r}")
        if r:  # round 0 compiles
          times[kind].append(seconds)
  for kind, values in times.items():
    print(f"{kind:5s} median {statistics.median(values):.2f} s  rounds {', '.join(f'{v:.2f}' for v in values)}")


if __name__ == "__main__":
  main()
