import csv
import json
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


def write_metrics(workdir, rows):
  os.makedirs(workdir)
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows))


def test_summary_tables_final_and_best_metrics_per_point(repo_root, tmp_path, capsys):
  os.chdir(repo_root)
  root = tmp_path / "sweep"
  write_metrics(root / "hidden=256,lr=0.001", [
      {"step": 10, "time": 1, "train/loss": 3.0, "eval/loss": 2.5, "eval/bits_per_char": 3.6},
      {"step": 20, "time": 2, "eval/loss": 2.0, "eval/bits_per_char": 2.9},
      {"step": 20, "time": 3, "eval/loss": 2.2, "eval/bits_per_char": 3.2},  # retrained after a resume: wins
      {"step": 30, "time": 4, "eval/loss": 2.1, "eval/bits_per_char": 3.0}])
  write_metrics(root / "hidden=384,lr=0.001", [{"step": 10, "time": 1, "eval/loss": 1.5}])
  with open(root / "hidden=384,lr=0.001" / "metrics.jsonl", "a") as f:
    f.write('{"step": 20, "ti')  # killed mid-write
  assert sweep.main(["--config", CONFIG, "--root", str(root), "--summary"]) == 0
  out = capsys.readouterr()
  assert "metrics.jsonl:2 is not a JSON row; skipped" in out.err
  lines = out.out.splitlines()
  assert lines[0].split() == ["point", "last_step", "best", "eval/loss", "best_step", "eval/bits_per_char",
                              "eval/loss"]
  assert lines[1].split() == ["hidden=256,lr=0.001", "30", "2.1", "30", "3", "2.1"]
  assert lines[2].split() == ["hidden=384,lr=0.001", "10", "1.5", "10", "1.5"]
  assert lines[3].split() == ["hidden=256,lr=0.003", "not", "started"] and len(lines) == 5
  with open(root / "summary.csv") as f:
    rows = list(csv.DictReader(f))
  assert rows[0]["best eval/loss"] == "2.1" and rows[0]["eval/bits_per_char"] == "3"
  assert rows[1]["eval/bits_per_char"] == "" and rows[3]["last_step"] == "not started"
