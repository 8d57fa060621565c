"""Helpers to run the real `genjax` CLI in child processes (1 CPU device, shared compilation cache)."""

import os
import subprocess
import sys

from genjax.train import trainer

SMOKE = "configs/char_rnn_pydoc.py:smoke"


def env(repo_root):
  e = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  cache = os.path.join(repo_root, ".pytest_cache", "jax_child_cache")
  e.update(JAX_NUM_CPU_DEVICES="1", JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1", JAX_COMPILATION_CACHE_DIR=cache,
           JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.5")
  return e


def argv(*args):
  return [sys.executable, "-m", "genjax.main", *args]


def run(repo_root, *args, timeout=180, extra_env=None, **kw):
  return subprocess.run(argv(*args), cwd=repo_root, env={**env(repo_root), **(extra_env or {})},
                        capture_output=True, text=True, timeout=timeout, **kw)


def start(repo_root, *args, **kw):
  return subprocess.Popen(argv(*args), cwd=repo_root, env=env(repo_root), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def wait_for_line(proc, needle, lines):
  """Read the child's output until a line contains `needle`; False if the child ended first."""
  for line in proc.stdout:
    lines.append(line)
    if needle in line:
      return True
  return False


def info(workdir):
  """What `genjax info` prints, computed in this process (a child would pay a JAX start-up for each)."""
  return {k: str(v) for k, v in trainer.info(workdir).items()}
