"""Expand a config's `sweep(add)` into one `genjax train` command per point.

  python -m launch.sweep --config configs/char_rnn_shakespeare.py:cpu --root runs/sweep [--dry-run]
  python -m launch.sweep ... --target tpu --tpu-name my-v4 --zone us-central2-b
  python -m launch.sweep ... --target slurm --nodes 2 --gpus-per-node 8

A config defines `def sweep(add)` and calls `add(**{"optim.lr": 1e-3, ...})` once per point. Each point gets
its own workdir named after its overrides, so re-running the sweep resumes every unfinished point.
"""

import argparse
import importlib.util
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
  args = p.parse_args(argv)
  if args.target == "tpu" and not (args.tpu_name and args.zone):
    p.error("--target tpu needs --tpu-name and --zone")
  for cmd in commands(args):
    print(shlex.join(cmd), flush=True)
    if not args.dry_run and subprocess.run(cmd).returncode != 0:
      return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
