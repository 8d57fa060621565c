"""launch/slurm.py: the sbatch script's directives and srun line, and its requeue-on-75 logic run by bash with
stand-ins for srun and scontrol (no cluster here)."""

import os
import subprocess

import pytest

from launch import slurm

ARGS = ["--config", "configs/gan_mnist.py:cpu", "--workdir", "/shared/runs/g", "--nodes", "2",
        "--gpus-per-node", "4", "--partition", "gpu", "--config.steps=1000"]


def dry(capsys, *argv):
  assert slurm.main([*argv, "--dry-run"]) == 0
  return capsys.readouterr().out.splitlines()


def test_one_process_per_node(capsys, tmp_path):
  lines = dry(capsys, *ARGS, "--repo-dir", str(tmp_path))
  assert lines[0] == "#!/bin/bash"
  assert {"#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=4", "#SBATCH --requeue",
          "#SBATCH --signal=TERM@120", "#SBATCH --partition=gpu"} <= set(lines)
  assert "export GENJAX_DISTRIBUTED=1" in lines
  assert ("srun --kill-on-bad-exit=1 .venv/bin/genjax train --config configs/gan_mnist.py:cpu --workdir "
          "/shared/runs/g --config.steps=1000") in lines
  assert lines[-1] == "sbatch genjax.sbatch" and not any("--account" in line for line in lines)


def test_one_process_per_gpu(capsys):
  lines = dry(capsys, *ARGS, "--per-gpu")
  assert "#SBATCH --ntasks-per-node=4" in lines
  assert any(line.startswith("srun --kill-on-bad-exit=1 --gpus-per-task=1 --gpu-bind=single:1 ") for line in lines)


@pytest.mark.parametrize("code, requeued", [(75, True), (0, False), (2, False)])
def test_the_script_requeues_a_preempted_run_only(tmp_path, code, requeued):
  """bash runs the generated script; srun exits with `code`, scontrol records what it was asked."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  (bin_dir / "srun").write_text(f"#!/bin/sh\necho \"srun $*\" >> {tmp_path}/calls\nexit {code}\n")
  (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"scontrol $*\" >> {tmp_path}/calls\n")
  for f in bin_dir.iterdir():
    f.chmod(0o755)
  args, rest = slurm.parser().parse_known_args([*ARGS, "--repo-dir", str(tmp_path)])
  args.overrides = rest
  job = tmp_path / "job.sbatch"
  job.write_text(slurm.script(args))
  env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", SLURM_JOB_ID="4242")
  proc = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True, timeout=30)
  assert proc.returncode == code, proc.stderr
  calls = (tmp_path / "calls").read_text().splitlines()
  assert calls[0].startswith("srun --kill-on-bad-exit=1 .venv/bin/genjax train")
  assert (calls[1:] == ["scontrol requeue 4242"]) == requeued and len(calls) == 1 + requeued


def test_unknown_arguments_are_named(capsys):
  with pytest.raises(SystemExit):
    slurm.main([*ARGS, "--gpus", "8"])
  assert "unrecognized arguments: --gpus 8" in capsys.readouterr().err


def test_without_sbatch_it_says_where_to_run_and_writes_nothing(capsys, tmp_path, monkeypatch):
  monkeypatch.setenv("PATH", str(tmp_path))
  with pytest.raises(SystemExit):
    slurm.main([*ARGS, "--out", str(tmp_path / "job.sbatch")])
  assert "sbatch not found: run this on the cluster's login node" in capsys.readouterr().err
  assert not (tmp_path / "job.sbatch").exists()
