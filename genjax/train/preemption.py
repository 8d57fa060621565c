"""SIGTERM (what a TPU VM gets before preemption) and SIGINT: finish the step, checkpoint, exit.

The handler only sets a flag; the training loop reads it between steps, a host-side bool, so no device sync.
A second SIGINT stops at once (KeyboardInterrupt), for when a researcher really means it.
"""

import contextlib
import signal
import threading

import jax
import numpy as np
from jax.experimental import multihost_utils

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: stopped on request with a checkpoint; rerun the same command to resume


class Preempted(Exception):
  """Raised by the trainer after the checkpoint of `step` is committed."""

  def __init__(self, step, signal_name):
    super().__init__(f"stopped by {signal_name} at step {step}; checkpoint saved, rerun the same command to resume")
    self.step = step


class StopFlag:
  def __init__(self):
    self.signal_name = None

  def __bool__(self):
    return self.signal_name is not None

  def agreed(self, sync_point):
    """Whether to stop now. One process: at once. Several: only at `sync_point` steps (the metric fetches),
    where all processes exchange their flags, so they all save the same step together."""
    if jax.process_count() == 1:
      return bool(self)
    if not sync_point:
      return False
    anyone = multihost_utils.process_allgather(np.int32(bool(self))).any()
    self.signal_name = self.signal_name or ("SIGTERM (on another process)" if anyone else None)
    return bool(anyone)


@contextlib.contextmanager
def catch_signals():
  """Yields a StopFlag that becomes true on SIGTERM or SIGINT (main thread only; elsewhere it stays false)."""
  flag = StopFlag()
  if threading.current_thread() is not threading.main_thread():
    yield flag
    return

  def handle(signum, frame):
    if flag and signum == signal.SIGINT:
      raise KeyboardInterrupt
    flag.signal_name = signal.Signals(signum).name

  previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
  try:
    yield flag
  finally:
    for s, h in previous.items():
      signal.signal(s, h)
