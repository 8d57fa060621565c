"""A TPU VM run from the codebase: create, install, train (relaunching after preemption), logs, copy, delete.

  python -m launch.tpu_vm create  --name g1 --zone us-central2-b --type v4-8 [--spot | --queued]
  python -m launch.tpu_vm install --name g1 --zone us-central2-b --repo URL [--rev main]
  python -m launch.tpu_vm train   --name g1 --zone us-central2-b --config configs/X.py --workdir runs/x
  python -m launch.tpu_vm run     ...   # create, install, train; after a preemption recreate and resume
  python -m launch.tpu_vm logs | copy --dest DIR | delete   --name g1 --zone us-central2-b

Every command takes `--dry-run` and then prints the exact gcloud commands instead of running them.

Where the run is kept: a `gs://BUCKET/PATH` workdir outlives the VM, so after a preemption `run` recreates the
VM and resumes straight from the bucket, on any slice, multi-host ones included (every worker reads and
writes the same checkpoints). A local workdir (`runs/x`) lives on worker 0's disk, which a recreated VM loses:
then `run` copies it to `--dest` after every train attempt and puts it back on the new VM, and only a
single-host type (v4-8, v5litepod-8, ...) works.
"""

import argparse
import shlex
import subprocess
import sys

RUNTIME = "tpu-ubuntu2204-base"
REMOTE_DIR = "~/genjax"
LOG = "~/genjax-train.log"
USER_ERROR = 2  # genjax's exit status for bad input: relaunching would fail the same way
PREEMPTED = 75  # genjax's exit status after SIGTERM, once its checkpoint is committed


def gcloud(args, *rest):
  return ["gcloud", "compute", "tpus", *rest, f"--zone={args.zone}"]


def ssh(args, command, worker="all"):
  return gcloud(args, "tpu-vm", "ssh", args.name) + [f"--worker={worker}", f"--command={command}"]


def create(args):
  """On demand, spot, or through a queued resource (waits for capacity instead of failing)."""
  spot = ["--spot"] if args.spot else []
  if args.queued:
    return [gcloud(args, "queued-resources", "create", args.name) + [
        f"--node-id={args.name}", f"--accelerator-type={args.type}", f"--runtime-version={RUNTIME}", *spot]]
  return [gcloud(args, "tpu-vm", "create", args.name) + [
      f"--accelerator-type={args.type}", f"--version={RUNTIME}", *spot]]


def in_bucket(args):
  return args.workdir.startswith("gs://")


def install(args):
  """The project at `--rev` on every worker, with the pinned constraints, the `tpu` extra and `gcs` (for a
  gs:// workdir; the VM's service account is its credential)."""
  steps = (f"(test -d {REMOTE_DIR} || git clone {shlex.quote(args.repo)} {REMOTE_DIR})",
           f"cd {REMOTE_DIR}", "git fetch --quiet origin", f"git checkout --quiet {shlex.quote(args.rev)}",
           "python3 -m venv .venv", ".venv/bin/pip install --quiet -c constraints.txt -e '.[tpu,gcs]'")
  return [ssh(args, " && ".join(steps))]


def train(args):
  """`genjax train` on every worker (each joins the job through jax.distributed), worker 0's log kept."""
  argv = ["genjax", "train", "--config", args.config, "--workdir", args.workdir, *args.overrides]
  remote = f"cd {REMOTE_DIR} && GENJAX_DISTRIBUTED=1 .venv/bin/{shlex.join(argv)} 2>&1 | tee -a {LOG}"
  return [ssh(args, f"set -o pipefail; {remote}")]


def restore(args):
  """A copied workdir back onto a new VM's worker 0, so `train` resumes from its last checkpoint (a bucket
  needs none: it was never on the VM)."""
  if in_bucket(args):
    return []
  return [gcloud(args, "tpu-vm", "scp", "--recurse", f"{args.dest}/.", f"{args.name}:{REMOTE_DIR}/{args.workdir}")
          + ["--worker=0"]]


def logs(args):
  return [ssh(args, f"tail -n 200 -f {LOG}", worker="0")]


def copy(args):
  """The workdir (checkpoints, metrics.jsonl, tb/, samples/) to `--dest` (a folder here): from the bucket, or
  from worker 0's disk."""
  if in_bucket(args):
    return [["mkdir", "-p", args.dest], ["gcloud", "storage", "rsync", "--recursive", args.workdir, args.dest]]
  return [["mkdir", "-p", args.dest],
          gcloud(args, "tpu-vm", "scp", "--recurse", f"{args.name}:{REMOTE_DIR}/{args.workdir}/.", args.dest)
          + ["--worker=0"]]


def delete(args):
  if args.queued:
    return [gcloud(args, "queued-resources", "delete", args.name) + ["--force", "--quiet"]]
  return [gcloud(args, "tpu-vm", "delete", args.name) + ["--quiet"]]


def state(args, capture):
  """The VM's state ('READY', 'PREEMPTED', ...), or '' when it no longer exists."""
  out = capture(gcloud(args, "tpu-vm", "describe", args.name) + ["--format=value(state)"])
  return out.strip()


def run(args, execute, capture):
  """create + install + train, then copy; after a preemption (genjax exited 75, or the VM is not READY when
  train fails) delete, recreate, restore the copied workdir and train again, up to --relaunches times. It
  resumes from the last copy: a VM lost before its copy resumes from the one before. A bucket workdir resumes
  from its last checkpoint and is copied to --dest (if given) once, at the end. Returns the exit status."""
  fresh = True
  for attempt in range(args.relaunches + 1):
    for cmd in create(args) + install(args) + ([] if fresh else restore(args)):
      if execute(cmd) != 0:
        return 1
    code = execute(train(args)[0])
    finished = code in (0, USER_ERROR) or (code != PREEMPTED and state(args, capture) == "READY")
    for cmd in copy(args) if args.dest and (finished or not in_bucket(args)) else []:
      execute(cmd)
    if finished:
      return code  # finished, or failed in a way a new VM would repeat
    print(f"tpu_vm: preempted (attempt {attempt + 1}); recreating {args.name} to resume", file=sys.stderr,
          flush=True)
    execute(delete(args)[0])
    fresh = False
  return 1


COMMANDS = {"create": create, "install": install, "train": train, "logs": logs, "copy": copy, "delete": delete}


def parser():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
  p.add_argument("command", choices=(*COMMANDS, "run"))
  p.add_argument("--name", required=True)
  p.add_argument("--zone", required=True)
  p.add_argument("--type", default="v4-8", help="accelerator type, e.g. v4-8, v5litepod-8")
  p.add_argument("--spot", action="store_true", help="spot capacity: cheaper, may be preempted")
  p.add_argument("--queued", action="store_true", help="through a queued resource (waits for capacity)")
  p.add_argument("--repo", help="git URL of the project (install, run)")
  p.add_argument("--rev", default="main")
  p.add_argument("--config")
  p.add_argument("--workdir", default="runs/tpu")
  p.add_argument("--dest", help="local folder for copy (and run's copies; optional with a gs:// workdir)")
  p.add_argument("--relaunches", type=int, default=10)
  p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
  return p


def main(argv=None):
  args, overrides = parser().parse_known_args(argv)
  args.overrides = overrides  # --config.KEY=VALUE, passed to genjax train
  bad = [o for o in overrides if not o.startswith("--config.")]
  if bad:
    parser().error(f"unrecognized arguments: {' '.join(bad)}")
  if args.command in ("train", "run") and not args.config:
    parser().error(f"{args.command} needs --config FILE.py[:VARIANT]")
  if args.command in ("install", "run") and not args.repo:
    parser().error(f"{args.command} needs --repo, the git URL every worker clones")
  if (args.command == "copy" or args.command == "run" and not in_bucket(args)) and not args.dest:
    parser().error(f"{args.command} needs --dest, a local folder for the workdir"
                   + ("" if args.command == "copy" else " (or a gs://BUCKET/PATH --workdir, which outlives the VM)"))
  if args.dry_run:
    cmds = COMMANDS[args.command](args) if args.command != "run" else (
        create(args) + install(args) + train(args) + (copy(args) if args.dest else []))
    print("\n".join(shlex.join(c) for c in cmds))
    return 0
  execute = lambda cmd: subprocess.run(cmd).returncode  # noqa: E731
  if args.command == "run":
    capture = lambda cmd: subprocess.run(cmd, capture_output=True, text=True).stdout  # noqa: E731
    return run(args, execute, capture)
  for cmd in COMMANDS[args.command](args):
    code = execute(cmd)
    if code != 0:
      return code
  return 0


if __name__ == "__main__":
  sys.exit(main())
