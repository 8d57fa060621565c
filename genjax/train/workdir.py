"""One run per workdir: an exclusive lock that the kernel drops when its process dies, even under kill -9."""

import contextlib
import fcntl
import os

from genjax.errors import UserError


def check(workdir):
  """A local (or shared, POSIX) folder: the lock is a flock and checkpoints, metrics and events are written
  with file APIs, so a bucket URL would become a local folder named 'gs:'."""
  if "://" in workdir:
    raise UserError(f"workdir {workdir} is an object-store URL, and genjax workdirs are local or shared POSIX "
                    f"folders (the one-run lock is a flock); train into a local path and copy it to the bucket "
                    f"after (python -m launch.tpu_vm copy), or use a shared filesystem mounted on every host")
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"workdir {workdir} is a file; pass --workdir a new or existing run folder")


@contextlib.contextmanager
def lock(workdir, active=True):
  """Hold workdir/.lock (flock) for the whole run; a second trainer on the same workdir gets a clear error.

  In a multi-process job only process 0 takes it (`active`): the others belong to the same run.
  """
  os.makedirs(workdir, exist_ok=True)
  if not active:
    yield
    return
  path = os.path.join(workdir, ".lock")
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
      raise UserError(f"workdir {workdir} is in use by a running genjax ({holder}); wait for it, stop it, or "
                      f"pass another --workdir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
    yield
  finally:
    os.close(fd)  # closing releases the lock; the file stays, harmless
