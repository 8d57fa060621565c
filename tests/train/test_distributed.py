"""`GENJAX_DISTRIBUTED=1` outside a working job: one line, exit 2, nothing written, and no hang.

Each case is a child `genjax train`: jax.distributed can only be initialized once per process, and an
unanswered coordinator would abort this one. The job that does come together is test_multiprocess.py's.
"""

import pytest

from genjax.train import distributed
from tests.train import procs


def train_alone(repo_root, tmp_path, **env):
  workdir = tmp_path / "run"
  done = procs.run(repo_root, "train", "--config", procs.SMOKE, "--workdir", str(workdir), timeout=120,
                   extra_env={"GENJAX_DISTRIBUTED": "1", **env})
  assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr[-2000:]
  assert not workdir.exists()
  return done.stderr


def test_no_job_to_join_names_the_ways_to_start_one(repo_root, tmp_path):
  err = train_alone(repo_root, tmp_path)
  assert "found no job to join (coordinator_address should be defined" in err
  assert "JAX_COORDINATOR_ADDRESS" in err and "unset GENJAX_DISTRIBUTED" in err


@pytest.mark.parametrize("process_id", ["0", "1"])
def test_a_coordinator_that_never_answers_times_out_in_one_line(repo_root, tmp_path, process_id):
  """Process 1 waits for an address nobody serves; process 0 serves it and waits for a peer that never comes."""
  address = f"127.0.0.1:{distributed.free_local_port()}"
  err = train_alone(repo_root, tmp_path, JAX_COORDINATOR_ADDRESS=address, JAX_NUM_PROCESSES="2",
                    JAX_PROCESS_ID=process_id, GENJAX_COORDINATOR_TIMEOUT="2")
  assert f"did not come together within 2 s (GENJAX_COORDINATOR_TIMEOUT): the coordinator at {address}" in err
  assert "raise GENJAX_COORDINATOR_TIMEOUT" in err


@pytest.mark.parametrize("name, value, match", [
    ("GENJAX_COORDINATOR_TIMEOUT", "soon", "GENJAX_COORDINATOR_TIMEOUT='soon' is not a whole number"),
    ("GENJAX_COORDINATOR_TIMEOUT", "0", "must be at least 1 second"),
    ("JAX_PROCESS_ID", "first", "JAX_PROCESS_ID='first' is not a whole number"),
])
def test_a_malformed_job_setting_is_named(repo_root, tmp_path, name, value, match):
  assert match in train_alone(repo_root, tmp_path, **{name: value})
