"""Expand a config's `sweep(add)` into one `genjax train` command per point.

  python -m launch.sweep --config configs/char_rnn_shakespeare.py:cpu --root runs/sweep [--dry-run]
  python -m launch.sweep ... --target tpu --tpu-name my-v4 --zone us-central2-b
  python -m launch.sweep ... --target slurm --nodes 2 --gpus-per-node 8
  python -m launch.sweep ... --summary [--metric eval/loss] [--maximize]

A config defines `def sweep(add)` and calls `add(**{"optim.lr": 1e-3, ...})` once per point. Each point gets
its own workdir named after its overrides, so re-running the sweep resumes every unfinished point.
`--summary` reads every point's metrics.jsonl and prints a table (and writes ROOT/summary.csv) of its last
step, the final value of every eval metric, and the best value of `--metric` with the step it was reached at.
"""

import argparse
import csv
import importlib.util
import io
import json
import os
import shlex
import subprocess
import sys


def points(config_path):
  """The list of override dicts the config's `sweep(add)` produces."""
  spec = importlib.util.spec_from_file_location("sweep_config", config_path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "sweep"):
    raise SystemExit(f"{config_path} defines no sweep(add); add one that calls add(**overrides) per point")
  out = []
  module.sweep(lambda **overrides: out.append(overrides))
  return out


def run_name(overrides):
  return ",".join(f"{k.split('.')[-1]}={v}" for k, v in sorted(overrides.items())) or "base"


def train_argv(config, root, overrides):
  argv = ["genjax", "train", "--config", config, "--workdir", f"{root}/{run_name(overrides)}"]
  return argv + [f"--config.{k}={v}" for k, v in sorted(overrides.items())]


def tpu_command(argv, name, zone, repo_dir="~/genjax"):
  """Run on every worker of a TPU VM slice; each process joins the job through jax.distributed."""
  remote = f"cd {repo_dir} && GENJAX_DISTRIBUTED=1 .venv/bin/{shlex.join(argv)}"
  return ["gcloud", "compute", "tpus", "tpu-vm", "ssh", name, f"--zone={zone}", "--worker=all",
          f"--command={remote}"]


def slurm_command(argv, nodes, gpus_per_node):
  """One task per node under srun; jax.distributed reads the SLURM environment."""
  return ["srun", f"--nodes={nodes}", "--ntasks-per-node=1", f"--gpus-per-node={gpus_per_node}",
          "env", "GENJAX_DISTRIBUTED=1", *argv]


def commands(args):
  out = []
  for overrides in points(args.config.split(":")[0]):
    argv = train_argv(args.config, args.root, overrides)
    if args.target == "tpu":
      argv = tpu_command(argv, args.tpu_name, args.zone)
    elif args.target == "slurm":
      argv = slurm_command(argv, args.nodes, args.gpus_per_node)
    out.append(argv)
  return out


def read_metrics(workdir):
  """{key: {step: value}} from a run's metrics.jsonl; a resumed run rewrites steps it retrains, the later
  row wins. Empty if the point has not started."""
  out = {}
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return out
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
      try:
        row = json.loads(line)
      except json.JSONDecodeError:  # a run killed mid-write leaves a partial line
        print(f"warning: {path}:{number} is not a JSON row; skipped", file=sys.stderr)
        continue
      for k, v in row.items():
        if k not in ("step", "time"):
          out.setdefault(k, {})[row["step"]] = v
  return out


def summary_rows(args):
  """One dict per point: its name, last step, best `args.metric` and its step, and every final eval value."""
  rows = []
  for overrides in points(args.config.split(":")[0]):
    name = run_name(overrides)
    metrics = read_metrics(os.path.join(args.root, name))
    row = {"point": name, "last_step": max((max(v) for v in metrics.values()), default="not started")}
    series = metrics.get(args.metric, {})
    if series:
      pick = max if args.maximize else min
      step = pick(series, key=series.get)
      row.update({f"best {args.metric}": series[step], "best_step": step})
    row.update({k: v[max(v)] for k, v in sorted(metrics.items()) if k.startswith("eval/")})
    rows.append(row)
  return rows


def summary(args):
  """The sweep's table as CSV text, also written to ROOT/summary.csv."""
  rows = summary_rows(args)
  columns = list(dict.fromkeys(k for r in rows for k in r))
  text = io.StringIO()
  writer = csv.DictWriter(text, columns, restval="", lineterminator="\n")
  writer.writeheader()
  writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in r.items()} for r in rows)
  os.makedirs(args.root, exist_ok=True)
  with open(os.path.join(args.root, "summary.csv"), "w", encoding="utf-8") as f:
    f.write(text.getvalue())
  return text.getvalue()


def table(csv_text):
  """Aligned columns for the terminal."""
  rows = list(csv.reader(io.StringIO(csv_text)))
  widths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(len(rows[0]))]
  return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--config", required=True)
  p.add_argument("--root", required=True, help="parent folder of the runs' workdirs")
  p.add_argument("--target", choices=("local", "tpu", "slurm"), default="local")
  p.add_argument("--tpu-name")
  p.add_argument("--zone")
  p.add_argument("--nodes", type=int, default=1)
  p.add_argument("--gpus-per-node", type=int, default=8)
  p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
  p.add_argument("--summary", action="store_true", help="table of every point's metrics (and ROOT/summary.csv)")
  p.add_argument("--metric", default="eval/loss", help="the metric --summary ranks by")
  p.add_argument("--maximize", action="store_true", help="higher --metric is better")
  args = p.parse_args(argv)
  if args.summary:
    print(table(summary(args)))
    return 0
  if args.target == "tpu" and not (args.tpu_name and args.zone):
    p.error("--target tpu needs --tpu-name and --zone")
  for cmd in commands(args):
    print(shlex.join(cmd), flush=True)
    if not args.dry_run and subprocess.run(cmd).returncode != 0:
      return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
