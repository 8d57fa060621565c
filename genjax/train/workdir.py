"""One run per workdir: an exclusive lock that the kernel drops when its process dies, even under kill -9.

A workdir is a local (or shared, POSIX) folder, or a Google Cloud Storage prefix (gs://BUCKET/PATH), which
survives the TPU VM that trained into it. Object storage has no lock that a killed process drops, so for a
bucket the flock is taken on a local file named after the URL: it stops a second run on the same machine, and
a note in the bucket (`.lock`, removed on exit) makes a run started elsewhere warn that it may not be alone.
"""

import contextlib
import fcntl
import hashlib
import os
import socket
import sys

from etils import epath

from genjax import files
from genjax.errors import UserError

GCS_INSTALL = "pip install -c constraints.txt -e '.[gcs]'"


def check(workdir):
  if files.is_url(workdir):
    return _check_bucket(workdir)
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"workdir {workdir} is a file; pass --workdir a new or existing run folder")


def _check_bucket(workdir):
  """Before any training: the client libraries, credentials, and a bucket that exists and can be listed."""
  if not workdir.startswith("gs://") or len(workdir) <= len("gs://"):
    raise UserError(f"workdir {workdir}: the object store genjax writes to is Google Cloud Storage; pass "
                    f"--workdir gs://BUCKET/PATH or a local folder")
  try:
    import gcsfs  # noqa: F401  etils.epath reaches gs:// through it
  except ImportError as e:
    raise UserError(f"workdir {workdir} needs the Google Cloud Storage client ({e.name} is not installed); "
                    f"{GCS_INSTALL}") from None
  if not os.environ.get("STORAGE_EMULATOR_HOST"):  # a local emulator takes no credentials
    import google.auth
    try:
      google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError as e:
      reason = str(e).strip().splitlines()[0][:200]
      raise UserError(f"workdir {workdir} needs Google Cloud credentials ({reason}); run `gcloud auth "
                      f"application-default login`, or on a TPU VM give it a service account with Storage "
                      f"access") from None
  bucket = epath.Path("gs://" + workdir[len("gs://"):].split("/")[0])
  try:
    found = bucket.exists()
  except Exception as e:  # noqa: BLE001  permission, network: all mean the run could never save
    raise UserError(f"workdir {workdir}: cannot reach bucket {bucket} ({type(e).__name__}: "
                    f"{str(e).strip()[:200]}); check the name and your Storage permissions") from None
  if not found:
    raise UserError(f"workdir {workdir}: bucket {bucket} does not exist; create it (gcloud storage buckets "
                    f"create {bucket} --location=REGION) or fix the name")


@contextlib.contextmanager
def lock(workdir, active=True):
  """Hold a flock for the whole run; a second trainer on the same workdir gets a clear error.

  In a multi-process job only process 0 takes it (`active`): the others belong to the same run.
  """
  bucket = files.is_url(workdir)
  if not bucket:
    os.makedirs(workdir, exist_ok=True)
  if not active:
    yield
    return
  path = _local_lock_file(workdir) if bucket else os.path.join(workdir, ".lock")
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  holder = f"pid {os.getpid()} on {socket.gethostname()}"
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      other = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
      raise UserError(f"workdir {workdir} is in use by a running genjax ({other}); wait for it, stop it, or "
                      f"pass another --workdir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.encode(), 0)
    with _bucket_note(workdir, holder) if bucket else contextlib.nullcontext():
      yield
  finally:
    os.close(fd)  # closing releases the lock; the file stays, harmless


def _local_lock_file(url):
  folder = files.cache_dir("locks")
  folder.mkdir(parents=True, exist_ok=True)
  return str(folder / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".lock"))


@contextlib.contextmanager
def _bucket_note(workdir, holder):
  """workdir/.lock names the run writing there; one left by a run on another machine is reported, since
  it is either still running (two runs would interleave checkpoints) or was killed (preemption)."""
  note = epath.Path(workdir) / ".lock"
  if note.exists() and (previous := note.read_text().strip()) != holder:
    print(f"genjax: warning: {note} says {previous} holds this workdir; if that run is alive, stop one of "
          f"them (a bucket cannot lock across machines); after a preemption this is expected", file=sys.stderr)
  note.write_text(holder)
  try:
    yield
  finally:
    note.unlink(missing_ok=True)
