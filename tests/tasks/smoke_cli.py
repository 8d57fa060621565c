"""What the task tests share: a config file's variant as a test starts from it, and a :smoke run trained in
two CLI invocations (stop at 10, resume to 20)."""

import io
import os

from genjax import config as common
from genjax import main as cli

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs")


def config(name, arg="smoke", **overrides):
  """configs/`name`.py at variant `arg`, unlocked, with dotted-key overrides ('model.hidden': 8)."""
  c = common.sibling(os.path.join(CONFIGS, "x.py"), name).get_config(arg)
  c.unlock()
  c.update_from_flattened_dict(overrides)
  return c


def train_twice(config, workdir):
  """Trains `config` to step 10, then resumes it to the end; returns `run(*argv)` for further commands."""
  progress = io.StringIO()
  run = lambda *a: cli.main(list(a), stream=progress)  # noqa: E731
  args = ("train", "--config", config, "--workdir", workdir)
  assert run(*args, "--config.steps=10") == 0
  assert run(*args) == 0
  assert "resuming at step 10" in progress.getvalue()
  return run
