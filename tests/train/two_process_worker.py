"""One of two processes of a localhost JAX job (gloo collectives): train, stop, resume, report a digest.

Started by test_multiprocess.py; argv: process_id port workdir.
"""

import hashlib
import io
import os
import sys

import jax
import numpy as np
from jax.experimental import multihost_utils


OVERRIDES = ["--config.steps=6", "--config.ckpt_every=100", "--config.eval_every=3", "--config.sample_every=100"]


def main(pid, port, workdir):
  os.environ.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(pid))
  from genjax.main import load_config
  from genjax.train import distributed, trainer
  distributed.join_job()  # what `GENJAX_DISTRIBUTED=1 genjax train` does
  config = load_config("configs/char_rnn_pydoc.py:smoke", OVERRIDES)
  trainer.train(config, workdir, stream=io.StringIO(), stop_after=3)
  state = trainer.train(config, workdir, stream=io.StringIO())
  leaves = [np.asarray(multihost_utils.process_allgather(x, tiled=True)) for x in jax.tree.leaves(state)]
  digest = hashlib.sha256(b"".join(x.tobytes() for x in leaves)).hexdigest()
  step = int(multihost_utils.process_allgather(state["step"], tiled=True))
  print(f"process {jax.process_index()}/{jax.process_count()} devices {jax.device_count()} step {step} "
        f"digest {digest}", flush=True)


if __name__ == "__main__":
  main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
