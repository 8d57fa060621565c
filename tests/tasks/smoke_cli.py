"""What the image tasks' CLI tests share: a :smoke run trained in two invocations (stop at 10, resume to 20)."""

import io

from genjax import main as cli


def train_twice(config, workdir):
  """Trains `config` to step 10, then resumes it to the end; returns `run(*argv)` for further commands."""
  progress = io.StringIO()
  run = lambda *a: cli.main(list(a), stream=progress)  # noqa: E731
  args = ("train", "--config", config, "--workdir", workdir)
  assert run(*args, "--config.steps=10") == 0
  assert run(*args) == 0
  assert "resuming at step 10" in progress.getvalue()
  return run
