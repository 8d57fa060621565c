"""The multi-host code path on one machine: two JAX processes, each with 2 CPU devices, one global mesh."""

import os
import subprocess
import sys

import pytest

from genjax.train import distributed
from tests.train import procs, two_process_worker


@pytest.mark.slow
def test_two_processes_train_resume_and_agree(tmp_path, repo_root):
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env.update(JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="2", PYTHONPATH=repo_root)
  port, workdir = distributed.free_local_port(), str(tmp_path / "run")
  worker = os.path.join(repo_root, "tests", "train", "two_process_worker.py")
  workers = [subprocess.Popen([sys.executable, worker, str(i), str(port), workdir], cwd=repo_root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outs = [p.communicate(timeout=300)[0] for p in workers]
  assert [p.returncode for p in workers] == [0, 0], "\n".join(o[-3000:] for o in outs)
  lines = [next(line for line in o.splitlines() if line.startswith("process ")) for o in outs]
  assert "process 0/2 devices 4 step 6" in lines[0] and "process 1/2 devices 4 step 6" in lines[1]
  assert lines[0].split("digest ")[1] == lines[1].split("digest ")[1]
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["3", "6"]
  # One process cannot continue the two's data positions: refused in one line, the run untouched.
  more = procs.run(repo_root, "train", "--config", "configs/char_rnn_pydoc.py:smoke", "--workdir", workdir,
                   *two_process_worker.OVERRIDES[1:], "--config.steps=9")
  assert more.returncode == 2 and more.stderr.strip().count("\n") == 0, more.stderr[-2000:]
  assert "trained by 2 processes and is resuming on 1" in more.stderr and "resume it with 2 processes" in more.stderr
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["3", "6"]
