import os

from launch import sweep

CONFIG = "configs/char_rnn_shakespeare.py:cpu"


def test_sweep_expands_to_one_train_command_per_point(repo_root, capsys):
  os.chdir(repo_root)
  assert sweep.main(["--config", CONFIG, "--root", "runs/s", "--dry-run"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 4 and len(set(lines)) == 4
  assert lines[0] == ("genjax train --config configs/char_rnn_shakespeare.py:cpu --workdir "
                      "runs/s/hidden=256,lr=0.001 --config.model.hidden=256 --config.optim.lr=0.001")


def test_tpu_and_slurm_commands(repo_root, capsys):
  os.chdir(repo_root)
  sweep.main(["--config", CONFIG, "--root", "r", "--target", "tpu", "--tpu-name", "v4-32", "--zone", "z",
              "--dry-run"])
  first = capsys.readouterr().out.splitlines()[0]
  assert first.startswith("gcloud compute tpus tpu-vm ssh v4-32 --zone=z --worker=all")
  assert "GENJAX_DISTRIBUTED=1 .venv/bin/genjax train" in first
  sweep.main(["--config", CONFIG, "--root", "r", "--target", "slurm", "--nodes", "2", "--dry-run"])
  assert capsys.readouterr().out.splitlines()[0].startswith("srun --nodes=2 --ntasks-per-node=1")
