"""What periodic evaluation (likelihoods, sample quality), sample grids and checkpoints cost a training run, read
from its own metrics.jsonl: the wall time between consecutive log rows, over each interval that holds one of
those, against the median interval of plain training.

  python benchmarks/eval_overhead.py --workdir runs/gan [--json] [--parts]

With --parts it also times, on the run's latest checkpoint, the two halves of one periodic evaluation as the
trainer runs them: the task's held-out metrics on `eval_batches` batches (a VAE's IWAE bound, a GAN's critic
scores) and the sample-quality metrics on `eval_quality_periodic` samples (FID/KID/IS, label accuracy), each
the faster of two calls after a warm-up (compiles and the classifier's training excluded).

At an evaluation step the trainer logs the training row, evaluates, logs the eval row, then writes samples
and the checkpoint when they fall due: the interval ending at the eval row carries the evaluation, the next
one what follows it. Both count here, against plain intervals (neither). The cost of an evaluation is the
median over the run's evaluations, so a one-time cost (the first evaluation training the cached domain
classifier) or an interval that spans a stop and resume does not count; the fraction is of a run with the
plain intervals plus that cost per evaluation. On a shared machine the intervals jitter by a few percent;
compare runs of one machine and load.
"""

import argparse
import json
import os
import statistics
import time


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
  following = {a: b for b, a in before.items()}
  extra = [gaps[s] + gaps.get(following.get(s), plain) - 2 * plain for s in sorted(evals) if s in gaps]
  cost = statistics.median(extra) if extra else 0.0
  total = plain * len(gaps) + cost * len(extra)
  return {"workdir": workdir, "evaluations": len(extra), "plain_interval_s": plain,
          "extra_s_per_evaluation": cost, "fraction_of_wall_time": cost * len(extra) / total}


def parts(workdir):
  """Seconds of one periodic evaluation's held-out metrics and of its sample-quality metrics."""
  from genjax import tasks
  from genjax.train import trainer
  run, state, _ = trainer.open_run(workdir)
  data = tasks.get(run.config.task).load_data(run.config)
  calls = {"heldout_s": lambda: run.evaluate(state, data.eval, data.eval_transform, run.config.eval_batches),
           "quality_s": lambda: trainer.sample_quality(run, state["params"], data,
                                                       run.config.eval_quality_periodic, log=lambda _: None)}
  out = {}
  for name, call in calls.items():
    call()
    spent = []
    for _ in range(2):
      t0 = time.perf_counter()
      call()
      spent.append(time.perf_counter() - t0)
    out[name] = min(spent)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--json", action="store_true")
  parser.add_argument("--parts", action="store_true")
  args = parser.parse_args()
  row = overhead(args.workdir)
  if args.parts:
    row.update(parts(args.workdir))
  print(json.dumps(row) if args.json else
        f"{row['evaluations']} evaluations, {row['extra_s_per_evaluation']:.1f} s each over a plain "
        f"{row['plain_interval_s']:.1f} s log interval: {row['fraction_of_wall_time']:.1%} of the run's wall time"
        + (f"; held-out metrics {row['heldout_s']:.1f} s, sample quality {row['quality_s']:.1f} s" if args.parts
           else ""))


if __name__ == "__main__":
  main()
