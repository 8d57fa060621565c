"""An sbatch script for a multi-node `genjax train` on a SLURM GPU cluster, written and submitted.

  python -m launch.slurm --config configs/X.py --workdir /shared/runs/x --nodes 2 --gpus-per-node 8
                         [--per-gpu] [--time 24:00:00] [--partition P] [--account A] [--config.KEY=VALUE ...]
                         [--dry-run]

One process per node (it drives the node's GPUs) or, with `--per-gpu`, one per GPU (each sees one GPU).
`jax.distributed.initialize()` (GENJAX_DISTRIBUTED=1) reads SLURM's environment: the coordinator is the first
node of SLURM_JOB_NODELIST, the process count SLURM_NTASKS, the process index SLURM_PROCID. The workdir must
be on a filesystem every node mounts. SLURM sends SIGTERM two minutes before the time limit; genjax commits a
checkpoint and exits 75, and the script requeues the job, which resumes from it.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys

PREEMPTED = 75  # genjax's exit status after SIGTERM, once its checkpoint is committed


def script(args):
  """The sbatch file's text."""
  tasks = args.gpus_per_node if args.per_gpu else 1
  directives = [f"--job-name={args.job_name}", f"--nodes={args.nodes}", f"--ntasks-per-node={tasks}",
                f"--gpus-per-node={args.gpus_per_node}", f"--cpus-per-task={args.cpus_per_task}",
                f"--time={args.time}", f"--output={args.log_dir}/%x-%j.out", "--requeue", "--signal=TERM@120"]
  directives += [f"--partition={args.partition}"] * bool(args.partition)
  directives += [f"--account={args.account}"] * bool(args.account)
  bind = " --gpus-per-task=1 --gpu-bind=single:1" if args.per_gpu else ""
  argv = [".venv/bin/genjax", "train", "--config", args.config, "--workdir", args.workdir, *args.overrides]
  return "\n".join([
      "#!/bin/bash",
      *(f"#SBATCH {d}" for d in directives),
      "set -uo pipefail",
      f"cd {shlex.quote(args.repo_dir)}",
      "export GENJAX_DISTRIBUTED=1",
      f"srun --kill-on-bad-exit=1{bind} {shlex.join(argv)}",
      "code=$?",
      f"if [ $code -eq {PREEMPTED} ]; then scontrol requeue \"$SLURM_JOB_ID\"; fi  # resumes from its checkpoint",
      "exit $code",
      ""])


def parser():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
  p.add_argument("--config", required=True)
  p.add_argument("--workdir", required=True, help="on a filesystem every node mounts")
  p.add_argument("--nodes", type=int, default=1)
  p.add_argument("--gpus-per-node", type=int, default=8)
  p.add_argument("--per-gpu", action="store_true", help="one process per GPU instead of one per node")
  p.add_argument("--cpus-per-task", type=int, default=8)
  p.add_argument("--time", default="24:00:00")
  p.add_argument("--partition")
  p.add_argument("--account")
  p.add_argument("--job-name", default="genjax")
  p.add_argument("--repo-dir", default=os.getcwd(), help="the project checkout with its .venv, on every node")
  p.add_argument("--log-dir", default="slurm-logs")
  p.add_argument("--out", default="genjax.sbatch", help="where the script is written")
  p.add_argument("--dry-run", action="store_true", help="print the script and the sbatch command, submit nothing")
  return p


def main(argv=None):
  p = parser()
  args, overrides = p.parse_known_args(argv)
  bad = [o for o in overrides if not o.startswith("--config.")]
  if bad:
    p.error(f"unrecognized arguments: {' '.join(bad)}")
  if args.nodes < 1 or args.gpus_per_node < 1:
    p.error("--nodes and --gpus-per-node must be at least 1")
  args.overrides = overrides
  text, submit = script(args), ["sbatch", args.out]
  if args.dry_run:
    print(text + shlex.join(submit))
    return 0
  if shutil.which("sbatch") is None:
    p.error("sbatch not found: run this on the cluster's login node, or add --dry-run to print the script")
  os.makedirs(args.log_dir, exist_ok=True)
  with open(args.out, "w", encoding="utf-8") as f:
    f.write(text)
  return subprocess.run(submit).returncode


if __name__ == "__main__":
  sys.exit(main())
