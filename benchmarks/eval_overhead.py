"""What periodic evaluation (likelihoods, sample quality), sample grids and checkpoints cost a training run, read
from its own metrics.jsonl: the wall time between consecutive log rows, over each interval that holds one of
those, against the median interval of plain training.

  python benchmarks/eval_overhead.py --workdir runs/gan [--json]

At an evaluation step the trainer logs the training row, evaluates, logs the eval row, then writes samples
and the checkpoint when they fall due: the interval ending at the eval row carries the evaluation, the next
one what follows it. Both count here, against plain intervals (neither). An interval over RESTART times the
plain one spans a stop and resume (or a crash), not work, and is left out. On a shared machine the intervals
jitter by a few percent; compare runs of one machine and load.
"""

import argparse
import json
import os
import statistics

RESTART = 20


def rows(workdir):
  """{step: last wall time logged at it}, and the steps that logged eval metrics."""
  times, evals = {}, set()
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    for line in f:
      row = json.loads(line)
      times[row["step"]] = row["time"]
      if any(k.startswith("eval/") for k in row):
        evals.add(row["step"])
  return times, evals


def overhead(workdir):
  times, evals = rows(workdir)
  steps = sorted(times)
  gaps = {b: times[b] - times[a] for a, b in zip(steps, steps[1:])}
  before = dict(zip(steps[1:], steps))  # each interval's first step
  plain = statistics.median(g for s, g in gaps.items() if s not in evals and before[s] not in evals)
  gaps = {s: g for s, g in gaps.items() if g < RESTART * plain}
  following = {a: b for b, a in before.items() if b in gaps}
  extra = [gaps[s] + gaps.get(following.get(s), plain) - 2 * plain for s in sorted(evals) if s in gaps]
  total = sum(gaps.values())
  return {"workdir": workdir, "evaluations": len(extra), "plain_interval_s": plain,
          "extra_s_per_evaluation": statistics.median(extra) if extra else 0.0,
          "fraction_of_wall_time": sum(extra) / total if total else 0.0}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--json", action="store_true")
  args = parser.parse_args()
  row = overhead(args.workdir)
  print(json.dumps(row) if args.json else
        f"{row['evaluations']} evaluations, {row['extra_s_per_evaluation']:.1f} s each over a plain "
        f"{row['plain_interval_s']:.1f} s log interval: {row['fraction_of_wall_time']:.1%} of the run's wall time")


if __name__ == "__main__":
  main()
