"""launch/tpu_vm.py: the exact gcloud commands (no cloud is reachable here) and the relaunch-after-preemption
loop, driven by a scripted stand-in for gcloud."""

import shlex

import pytest

from launch import tpu_vm

VM = ["--name", "g1", "--zone", "us-central2-b"]
RUN = [*VM, "--repo", "https://example.org/genjax.git", "--config", "configs/vae_mnist.py:cpu", "--workdir",
       "runs/v", "--dest", "/tmp/v", "--spot", "--config.steps=500"]


def dry(capsys, *argv):
  assert tpu_vm.main([*argv, "--dry-run"]) == 0
  return [shlex.split(line) for line in capsys.readouterr().out.splitlines()]


def test_create_on_demand_spot_and_queued(capsys):
  assert dry(capsys, "create", *VM, "--type", "v4-8") == [[
      "gcloud", "compute", "tpus", "tpu-vm", "create", "g1", "--zone=us-central2-b", "--accelerator-type=v4-8",
      "--version=tpu-ubuntu2204-base"]]
  assert dry(capsys, "create", *VM, "--spot")[0][-1] == "--spot"
  assert dry(capsys, "create", *VM, "--queued")[0][:7] == [
      "gcloud", "compute", "tpus", "queued-resources", "create", "g1", "--zone=us-central2-b"]
  assert dry(capsys, "delete", *VM, "--queued")[0][3:6] == ["queued-resources", "delete", "g1"]


def test_install_train_logs_copy_commands(capsys):
  (install,) = dry(capsys, "install", *VM, "--repo", "https://example.org/genjax.git", "--rev", "v1")
  assert install[:7] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "g1", "--zone=us-central2-b"]
  assert install[7] == "--worker=all"
  assert "git checkout --quiet v1" in install[8]
  assert "pip install --quiet -c constraints.txt -e '.[tpu,gcs]'" in install[8]
  (train,) = dry(capsys, "train", *RUN)
  assert train[7] == "--worker=all"
  assert ("GENJAX_DISTRIBUTED=1 .venv/bin/genjax train --config configs/vae_mnist.py:cpu --workdir runs/v "
          "--config.steps=500 2>&1 | tee -a ~/genjax-train.log") in train[8]
  assert train[8].startswith("--command=set -o pipefail; ")
  assert dry(capsys, "logs", *VM)[0][7:] == ["--worker=0", "--command=tail -n 200 -f ~/genjax-train.log"]
  mkdir, scp = dry(capsys, "copy", *VM, "--workdir", "runs/v", "--dest", "/tmp/v")
  assert mkdir == ["mkdir", "-p", "/tmp/v"]
  assert scp[3:] == ["tpu-vm", "scp", "--recurse", "g1:~/genjax/runs/v/.", "/tmp/v", "--zone=us-central2-b",
                     "--worker=0"]
  assert dry(capsys, "copy", *VM, "--workdir", "gs://b/v", "--dest", "/tmp/v")[1] == [
      "gcloud", "storage", "rsync", "--recursive", "gs://b/v", "/tmp/v"]


@pytest.mark.parametrize("argv, needs", [(["train", *VM], "--config"), (["install", *VM], "--repo"),
                                          (["copy", *VM], "--dest"), (["train", *VM, "--config", "c", "--bogus"],
                                                                      "unrecognized arguments: --bogus")])
def test_missing_or_unknown_arguments_are_named(argv, needs, capsys):
  with pytest.raises(SystemExit) as exit_:
    tpu_vm.main(argv)
  assert exit_.value.code == 2 and needs in capsys.readouterr().err


def scripted(train_codes, states):
  """A stand-in for gcloud: train attempts exit with `train_codes`, describe answers `states` in turn."""
  calls, codes, answers = [], iter(train_codes), iter(states)

  def execute(cmd):
    calls.append(cmd)
    return next(codes) if "ssh" in cmd and "genjax train" in cmd[-1] else 0
  return calls, execute, lambda cmd: next(answers)


def kinds(calls):
  return [c[4] if c[0] == "gcloud" and c[3] == "tpu-vm" else c[0] for c in calls]


@pytest.mark.parametrize("code, vm_state", [(255, "PREEMPTED"), (75, "READY")])
def test_run_recreates_after_preemption_and_resumes_from_the_copy(code, vm_state):
  calls, execute, capture = scripted([code, 0], [vm_state])
  args, rest = tpu_vm.parser().parse_known_args(["run", *RUN])
  args.overrides = rest
  assert tpu_vm.run(args, execute, capture) == 0
  assert kinds(calls) == ["create", "ssh", "ssh", "mkdir", "scp", "delete",
                          "create", "ssh", "scp", "ssh", "mkdir", "scp"]
  assert calls[8][6:8] == ["/tmp/v/.", "g1:~/genjax/runs/v"]  # the copy goes back before training resumes


def test_a_bucket_workdir_resumes_on_a_new_vm_without_copies(capsys):
  """The checkpoints outlive the VM in the bucket: no copy between attempts, none back, one at the end."""
  argv = ["run", *RUN[:RUN.index("--workdir")], "--workdir", "gs://b/v", "--dest", "/tmp/v"]
  calls, execute, capture = scripted([75, 0], [])
  args, rest = tpu_vm.parser().parse_known_args(argv)
  args.overrides = rest
  assert tpu_vm.run(args, execute, capture) == 0
  assert kinds(calls) == ["create", "ssh", "ssh", "delete", "create", "ssh", "ssh", "mkdir", "gcloud"]
  assert "--workdir gs://b/v" in calls[6][-1]
  no_dest = [a for a in argv if a not in ("--dest", "/tmp/v")]
  assert [c[4] for c in dry(capsys, *no_dest)] == ["create", "ssh", "ssh"]  # --dest is optional for a bucket


@pytest.mark.parametrize("code, vm_state", [(2, "PREEMPTED"), (1, "READY")])
def test_run_stops_on_failures_a_new_vm_would_repeat(code, vm_state):
  calls, execute, capture = scripted([code], [vm_state])
  args, rest = tpu_vm.parser().parse_known_args(["run", *RUN])
  args.overrides = rest
  assert tpu_vm.run(args, execute, capture) == code
  assert "delete" not in kinds(calls)
