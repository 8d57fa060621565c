"""Joining a multi-process job (`GENJAX_DISTRIBUTED=1`) with errors a researcher can act on.

`jax.distributed.initialize()` finds TPU VM slices and SLURM allocations from the environment. Its two
failures are unreadable where they happen: with no cluster it raises `coordinator_address should be defined`,
and when the coordinator or a peer never answers, XLA aborts the process (SIGABRT, a C++ stack trace) once
the timeout passes. A watchdog turns the second into one line and exit status 2 a little before XLA would
abort; nothing has been written to the workdir yet, so nothing is lost. Outside a detected cluster (two
workstations, a localhost test) the job is named by JAX_COORDINATOR_ADDRESS, which jax reads, and
JAX_NUM_PROCESSES and JAX_PROCESS_ID, which genjax reads and passes on.
"""

import os
import socket
import sys
import threading

from genjax.errors import EXIT_USER_ERROR, UserError

TIMEOUT_VARIABLE = "GENJAX_COORDINATOR_TIMEOUT"
DEFAULT_TIMEOUT_S = 300
XLA_GRACE_S = 30  # jax's own deadline sits this far behind the watchdog's


def join_job():
  """Connects this process to its job, or ends it with a message within the coordinator timeout."""
  import jax
  timeout = _timeout()
  watchdog = threading.Timer(timeout, _give_up, args=(timeout,))
  watchdog.daemon = True
  watchdog.start()
  try:
    jax.distributed.initialize(num_processes=_count("JAX_NUM_PROCESSES"), process_id=_count("JAX_PROCESS_ID"),
                               initialization_timeout=timeout + XLA_GRACE_S)
  except (ValueError, RuntimeError) as e:
    raise UserError(f"GENJAX_DISTRIBUTED=1 but this process found no job to join ({str(e).splitlines()[0]}): "
                    "start it on a TPU VM slice or in a SLURM allocation (launch/), or set "
                    "JAX_COORDINATOR_ADDRESS=host:port, JAX_NUM_PROCESSES and JAX_PROCESS_ID; "
                    "unset GENJAX_DISTRIBUTED to train alone") from None
  finally:
    watchdog.cancel()


def free_local_port():
  """A port nothing listens on now, for a coordinator on this machine (localhost jobs: tests, benchmarks)."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _timeout():
  seconds = _count(TIMEOUT_VARIABLE)
  if seconds is None:
    return DEFAULT_TIMEOUT_S
  if seconds < 1:
    raise UserError(f"{TIMEOUT_VARIABLE}={seconds} must be at least 1 second: set it to e.g. {DEFAULT_TIMEOUT_S}")
  return seconds


def _count(name):
  """An environment variable as a whole number, None when unset."""
  raw = os.environ.get(name)
  if raw is None:
    return None
  try:
    return int(raw)
  except ValueError:
    raise UserError(f"{name}={raw!r} is not a whole number: set it to one, or unset it") from None


def _give_up(timeout):
  """Runs on the watchdog thread while initialize() is blocked in XLA; exits the whole process."""
  address = os.environ.get("JAX_COORDINATOR_ADDRESS", "the address jax detected")
  print(f"genjax: error: the job did not come together within {timeout} s ({TIMEOUT_VARIABLE}): the "
        f"coordinator at {address} (process 0) never answered or a process never joined; start every "
        f"process, check that process 0's host and port are reachable from this one, or raise "
        f"{TIMEOUT_VARIABLE}", file=sys.stderr, flush=True)
  os._exit(EXIT_USER_ERROR)
